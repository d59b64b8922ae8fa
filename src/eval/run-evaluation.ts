import type { FastifyInstance } from 'fastify'
import type { SearchRequest } from '../pipeline/search.js'
import { loadQrels, loadQueries } from './beir.js'
import { summarizeLatencies, type LatencySummary } from './latency.js'
import { evaluateRun } from './metrics.js'
import { createProgress } from './progress.js'

export interface EvaluationOutcome {
  queries: number
  metrics: Record<string, number>
  latency: LatencySummary
  run: Map<string, Map<string, number>>
  /** How often PRF kept the original query, when PRF ran. */
  prf_original_share?: number
}

/** Runs every judged query of a split through the search pipeline and scores the ranking. */
export async function runEvaluation(
  app: FastifyInstance,
  collection: string,
  datasetDir: string,
  split: string,
  request: Omit<SearchRequest, 'query'>,
  label = `querying ${split}`,
): Promise<EvaluationOutcome> {
  const qrels = await loadQrels(datasetDir, split)
  const queries = await loadQueries(datasetDir)
  const judged = [...qrels.keys()].filter((id) => queries.has(id))
  const run = new Map<string, Map<string, number>>()
  const latencies: number[] = []
  let prfRuns = 0
  let prfOriginal = 0
  const progress = createProgress({ label, total: judged.length })
  for (const qid of judged) {
    const started = performance.now()
    const response = await app.searchPipeline.search(collection, { ...request, query: queries.get(qid)!.text })
    latencies.push(performance.now() - started)
    run.set(qid, new Map(response.results.map((r) => [r.id, r.score])))
    if (response.prf !== undefined) {
      prfRuns++
      if (response.prf.used === 'original') prfOriginal++
    }
    progress.tick()
  }
  progress.done()
  const evaluation = evaluateRun(run, qrels, { ndcgAt: [10], recallAt: [100], mrrAt: [10] })
  return {
    queries: evaluation.queries,
    metrics: evaluation.mean as Record<string, number>,
    latency: summarizeLatencies(latencies),
    run,
    ...(prfRuns > 0 && { prf_original_share: prfOriginal / prfRuns }),
  }
}
