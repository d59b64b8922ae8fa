import { errors } from '../errors.js'
import type { Candidate, StageScores } from '../candidate.js'

/** Which raw-score slot a reranker writes: each family keeps its own so later stages can compare. */
export type RerankScoreKey = Extract<keyof StageScores, 'cross_encoder' | 'listwise' | 'embedding'>

export interface RankOptions {
  /** Keep only the best `topN` after reordering (default: all candidates). */
  topN?: number
  /** Aborts the ranking between model calls (the cascade passes its remaining budget here). */
  signal?: AbortSignal
}

/** What one listwise window saw and did; `permutation[i]` is the window slot now at position i. */
export interface WindowDebug {
  /** Positions [start, end) of the window in the list being reranked, at the time it ran. */
  start: number
  end: number
  ids: string[]
  /** First-token identifier logit per window slot; undefined when the backend did not report it. */
  logits: (number | undefined)[]
  permutation: number[]
  truncatedPassages: number
  ms: number
}

export interface RankOutcome {
  /** Reordered, cut to topN; each carries its raw score in `scores[scoreKey]` and `score` set. */
  candidates: Candidate[]
  /** Passages shortened to fit the model's context. */
  truncatedPassages: number
  /** Per-window detail for listwise rerankers. */
  windows?: WindowDebug[]
}

/**
 * A reranking stage: candidates in, the same candidates reordered (and usually cut) out, so stages
 * chain as a fold (see `runCascade`).
 *
 * @example
 *   const { candidates } = await reranker.rank('what is bm25?', retrieved, { topN: 10 })
 */
export interface Reranker {
  readonly name: string
  readonly scoreKey: RerankScoreKey
  rank(query: string, candidates: Candidate[], options?: RankOptions): Promise<RankOutcome>
  /** Releases models or connections; the reranker is unusable afterwards. */
  dispose(): Promise<void>
}

/** Validates a topN option and returns how many of `available` to keep. */
export function resolveTopN(topN: number | undefined, available: number): number {
  if (topN === undefined) return available
  if (!Number.isInteger(topN) || topN < 1) throw errors.invalidValue('top_n', topN, 'expected a positive integer')
  return Math.min(topN, available)
}

