/**
 * The one shape that flows through every stage: retrieval produces candidates, each reranker takes
 * candidates and returns them reordered (and usually cut), so the cascade is a fold over stages.
 */
export interface StageScores {
  dense?: number
  lexical?: number
  fused?: number
  cross_encoder?: number
  listwise?: number
  /** Cosine of query and passage under an embedding rerank stage's (usually bigger) bi-encoder. */
  embedding?: number
}

export interface Candidate {
  id: string
  text: string
  /** The score of the last stage that ordered this candidate (raw until calibrated). */
  score: number
  /** Raw scores from each stage that saw the candidate. */
  scores: StageScores
  /** Where each first-stage retriever ranked this candidate (1-based rank and raw score). */
  sources?: Record<string, { rank: number; score: number }>
  metadata?: Record<string, unknown>
}

/** Wall-clock milliseconds since `start` (from performance.now()), rounded to 0.01 ms. */
export const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 100) / 100
