import type { Progress } from '../../scripts/lib/progress.js'
import type { Candidate } from '../../src/candidate.js'
import type { BeirQrels } from '../../src/eval/beir.js'
import { evaluateRun, rankEntries } from '../../src/eval/metrics.js'
import type { Reranker } from '../../src/rerank/reranker.js'
import { applyStage, startChain, type StageFusion } from '../../src/rerank/stage-fusion.js'
import { summarizeLatencies, type LatencySummary } from '../lib/stats.js'

/** One stage of the cascade under evaluation: the same meaning as a `rerank.stages` entry. */
export interface EvaluatedStage {
  /** The model id as the request names it. */
  model: string
  /** How many candidates this stage sees (and reorders). */
  topN: number
  /** 'rrf': fuse this stage's ranking with the stages before it, as `rerank.stages[].fusion` does. */
  fusion?: StageFusion
  reranker: Reranker
}

export interface RerankEvaluationInput {
  /** query id -> query text, for the queries to run (judged queries with a first-stage ranking). */
  queries: ReadonlyMap<string, string>
  qrels: BeirQrels
  /** query id -> doc id -> first-stage score (a TREC run). */
  firstStage: ReadonlyMap<string, ReadonlyMap<string, number>>
  /** The text a reranker is shown for a document id. */
  passage: (docId: string) => string | undefined
  stages: readonly EvaluatedStage[]
  ndcgAt?: readonly number[]
  recallAt?: readonly number[]
  mrrAt?: readonly number[]
  progress?: Progress
  /** Queries already reranked by an earlier, interrupted run: their lists are taken as recorded. */
  done?: ReadonlyMap<string, QueryRecord>
  /** Called after each query that was reranked now (e.g. to append it to a checkpoint file). */
  onQuery?: (record: QueryRecord) => Promise<void>
}

/** One query's outcome, enough to score it again without reranking (a checkpoint line). */
export interface QueryRecord {
  query: string
  /** The first stage's order of the candidates that have text. */
  first: string[]
  /** Per stage: its own order (head, then tail), the order after it (fused when it fuses), its ms. */
  stages: { own: string[]; after: string[]; ms?: number; truncated: number }[]
}

export interface StageResult {
  /** 'first stage', or the stage's model id. */
  stage: string
  /** Candidates the stage reordered per query (undefined for the first stage). */
  topN?: number
  metrics: Record<string, number>
  /** Milliseconds per query spent in this stage alone (undefined for the first stage, read from a file). */
  latency?: LatencySummary
  /** Passages cut to fit the stage model, summed over queries. */
  truncatedPassages?: number
}

export interface RerankEvaluationOutcome {
  queries: number
  /** The first stage, then one entry after each rerank stage. */
  stages: StageResult[]
  /** The final ranking per query (reranked heads followed by the untouched tails). */
  run: Map<string, Map<string, number>>
  /** Run documents that had no passage text and were left out. */
  missingPassages: number
  /** Each rerank stage's own ranking per query, before any fusion (its order of the head, then the tail). */
  stageRuns: Map<string, Map<string, number>>[]
}

/**
 * Reranks each query's candidates from a first-stage run through a cascade, as `rerank.stages` does in
 * a search: stage 1 reorders the first stage's top N, stage 2 the top N of stage 1's order, and so on.
 * After every stage the whole list is scored: the stage's reordered head followed by the candidates it
 * did not see, in the order they had, so Recall@k at depths past a stage's top N still counts them.
 * Ranks become scores (n, n-1, ...) before scoring, so metric tie-breaking cannot reorder a stage's output.
 *
 * @example
 *   const out = await evaluateReranking({ queries, qrels, firstStage: await readTrecRun(file), passage: (id) => texts.get(id), stages })
 *   out.stages.map((s) => s.metrics['ndcg@10'])   // [0.5058, 0.687, ...]
 */
export async function evaluateReranking(input: RerankEvaluationInput): Promise<RerankEvaluationOutcome> {
  const depthLists: string[][][] = input.stages.map(() => [])
  const ownLists: string[][][] = input.stages.map(() => [])
  const firstLists: string[][] = []
  const stageMs: number[][] = input.stages.map(() => [])
  const truncated = input.stages.map(() => 0)
  const queryIds: string[] = []
  let missingPassages = 0
  for (const [queryId, queryText] of input.queries) {
    const recorded = input.done?.get(queryId)
    if (recorded !== undefined && recorded.stages.length === input.stages.length) {
      queryIds.push(queryId)
      firstLists.push(recorded.first)
      recorded.stages.forEach((stage, i) => {
        ownLists[i]!.push(stage.own)
        depthLists[i]!.push(stage.after)
        if (stage.ms !== undefined) stageMs[i]!.push(stage.ms)
        truncated[i]! += stage.truncated
      })
      continue
    }
    const record: QueryRecord = { query: queryId, first: [], stages: [] }
    const scores = input.firstStage.get(queryId) ?? new Map<string, number>()
    let current: Candidate[] = []
    for (const [docId, score] of rankEntries(scores)) {
      const text = input.passage(docId)
      if (text === undefined) {
        missingPassages++
        continue
      }
      current.push({ id: docId, text, score, scores: { lexical: score } })
    }
    queryIds.push(queryId)
    firstLists.push(current.map((c) => c.id))
    record.first = current.map((c) => c.id)
    // The same chain of reciprocal-rank sums as the search cascade (src/rerank/cascade.ts).
    let chain = startChain(current)
    for (const [i, stage] of input.stages.entries()) {
      const head = current.slice(0, stage.topN)
      const tail = current.slice(stage.topN)
      let ms: number | undefined
      let cut = 0
      if (head.length > 0) {
        const began = performance.now()
        const outcome = await stage.reranker.rank(queryText, head, { topN: head.length })
        ms = performance.now() - began
        stageMs[i]!.push(ms)
        cut = outcome.truncatedPassages
        truncated[i]! += cut
        ownLists[i]!.push([...outcome.candidates.map((c) => c.id), ...tail.map((c) => c.id)])
        const applied = applyStage(chain, outcome.candidates, stage.fusion, head.length)
        chain = applied.chain
        current = [...applied.order, ...tail]
      } else ownLists[i]!.push(current.map((c) => c.id))
      depthLists[i]!.push(current.map((c) => c.id))
      record.stages.push({ own: ownLists[i]!.at(-1)!, after: depthLists[i]!.at(-1)!, ...(ms !== undefined && { ms }), truncated: cut })
    }
    await input.onQuery?.(record)
    input.progress?.tick()
  }
  input.progress?.done()

  const cutoffs = { ndcgAt: input.ndcgAt ?? [10], recallAt: input.recallAt ?? [100], mrrAt: input.mrrAt ?? [10] }
  const judgedQrels: BeirQrels = new Map(queryIds.filter((id) => input.qrels.has(id)).map((id) => [id, input.qrels.get(id)!]))
  const score = (lists: string[][]) => {
    const run = new Map(lists.map((ids, q) => [queryIds[q]!, new Map(ids.map((id, rank) => [id, ids.length - rank]))]))
    const evaluation = evaluateRun(run, judgedQrels, cutoffs)
    return { run, metrics: evaluation.mean as Record<string, number>, queries: evaluation.queries }
  }
  const first = score(firstLists)
  const results: StageResult[] = [{ stage: 'first stage', metrics: first.metrics }]
  let finalRun = first.run
  input.stages.forEach((stage, i) => {
    const scored = score(depthLists[i]!)
    finalRun = scored.run
    results.push({
      stage: stage.fusion === undefined ? stage.model : `${stage.model} (${stage.fusion})`,
      topN: stage.topN,
      metrics: scored.metrics,
      ...(stageMs[i]!.length > 0 && { latency: summarizeLatencies(stageMs[i]!) }),
      truncatedPassages: truncated[i]!,
    })
  })
  const stageRuns = ownLists.map((lists) => new Map(lists.map((ids, q) => [queryIds[q]!, new Map(ids.map((id, rank) => [id, ids.length - rank]))])))
  return { queries: first.queries, stages: results, run: finalRun, missingPassages, stageRuns }
}
