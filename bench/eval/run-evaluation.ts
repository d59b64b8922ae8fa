import type { FastifyInstance } from 'fastify'
import { createProgress } from '../../scripts/lib/progress.js'
import { loadQrels, loadQueries, type BeirQrels, type BeirQuery } from '../../src/eval/beir.js'
import { evaluateRun } from '../../src/eval/metrics.js'
import type { SearchRequest } from '../../src/pipeline/search.js'
import { summarizeLatencies, type LatencySummary } from '../lib/stats.js'

export interface EvaluationOutcome {
  queries: number
  metrics: Record<string, number>
  latency: LatencySummary
  run: Map<string, Map<string, number>>
  /** The retrieval mode(s) that ran (the request's, else the collection's default), as the responses report them. */
  modes: string[]
  /** How often PRF kept the original query, when PRF ran. */
  prf_original_share?: number
  /** Set when only the first `first` of the split's `of` judged queries ran (--max-queries). */
  subset?: { first: number; of: number }
}

export interface EvaluationOptions {
  /** Run only the first N judged queries, in qrels file order: the same subset on every run. */
  maxQueries?: number
}

/** Ids of the judged queries that have a text, in qrels file order; the first `maxQueries` when given. */
export function judgedQueryIds(qrels: BeirQrels, queries: ReadonlyMap<string, BeirQuery>, maxQueries?: number): string[] {
  if (maxQueries !== undefined && !(Number.isInteger(maxQueries) && maxQueries >= 1)) {
    throw new RangeError(`maxQueries must be a positive integer, got ${maxQueries}`)
  }
  const judged = [...qrels.keys()].filter((id) => queries.has(id))
  return maxQueries === undefined ? judged : judged.slice(0, maxQueries)
}

/**
 * Runs the judged queries of a split (all, or the first `maxQueries`) through the search pipeline
 * and scores the ranking; a subset is scored against its own queries' qrels only.
 */
export async function runEvaluation(
  app: FastifyInstance,
  collection: string,
  datasetDir: string,
  split: string,
  request: Omit<SearchRequest, 'query'>,
  label = `querying ${split}`,
  options: EvaluationOptions = {},
): Promise<EvaluationOutcome> {
  const allQrels = await loadQrels(datasetDir, split)
  const queries = await loadQueries(datasetDir)
  const allJudged = judgedQueryIds(allQrels, queries)
  const judged = judgedQueryIds(allQrels, queries, options.maxQueries)
  // Queries left out of a subset must not count as empty rankings: the metrics see only its qrels.
  const qrels: BeirQrels = options.maxQueries === undefined ? allQrels : new Map(judged.map((id) => [id, allQrels.get(id)!]))
  const run = new Map<string, Map<string, number>>()
  const latencies: number[] = []
  const modes = new Set<string>()
  let prfRuns = 0
  let prfOriginal = 0
  const progress = createProgress({ label, total: judged.length })
  for (const qid of judged) {
    const started = performance.now()
    const response = await app.searchPipeline.search(collection, { ...request, query: queries.get(qid)!.text })
    latencies.push(performance.now() - started)
    run.set(qid, new Map(response.results.map((r) => [r.id, r.score])))
    modes.add(response.mode)
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
    modes: [...modes].sort(),
    ...(prfRuns > 0 && { prf_original_share: prfOriginal / prfRuns }),
    ...(judged.length < allJudged.length && { subset: { first: judged.length, of: allJudged.length } }),
  }
}
