/**
 * The shapes at the bottom of the pipeline, imported by every layer and importing nothing: what a
 * retriever finds (`Hit`), what a reranker reads and returns (`Candidate`, a hit with its text), the
 * names of the stages that score them, and the one timing helper every stage reports with.
 * Retrieval produces hits; the texts of those a stage or the response needs are read once
 * (hydration); each reranker takes candidates and returns them reordered and usually cut, so the
 * cascade is a fold over stages.
 */

/** Raw scores from each stage that saw a candidate. */
export interface StageScores {
  dense?: number
  lexical?: number
  fused?: number
  cross_encoder?: number
  listwise?: number
  /** Cosine of query and passage under an embedding rerank stage's (usually bigger) bi-encoder. */
  embedding?: number
}

/** The pipeline stages whose raw scores can be calibrated, in the order they run. */
export const STAGE_NAMES = ['dense', 'lexical', 'fused', 'embedding', 'cross_encoder', 'listwise'] as const satisfies readonly (keyof StageScores)[]
export type StageName = (typeof STAGE_NAMES)[number]

/** One rerank stage's raw score for a hit: the model, the kind of score it gives, the score. */
export interface RerankStageScore {
  model: string
  stage: 'embedding' | 'cross_encoder' | 'listwise'
  score: number
}

/** Where one first-stage retriever ranked a hit (1-based rank and raw score). */
export interface SourceRank {
  rank: number
  score: number
}

/** A retrieved document before its text is read: what first-pass retrieval and feedback pass around. */
export interface Hit {
  id: string
  /** The score of the last stage that ordered this hit (raw until calibrated). */
  score: number
  scores: StageScores
  sources?: Record<string, SourceRank>
  /**
   * Each rerank stage's raw score, in cascade order, for the stages this hit passed. `scores` keeps
   * one value per kind, so with two stages of a kind (two embedding stages) only this has both.
   */
  rerankScores?: RerankStageScore[]
}

export interface Candidate extends Hit {
  text: string
  metadata?: Record<string, unknown>
}

/** Wall-clock milliseconds since `start` (from performance.now()), rounded to 0.01 ms. */
export const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 100) / 100
