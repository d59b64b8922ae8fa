import { cosineAtDims } from './vector-math.js'

export interface ScoredLabel {
  label: number
  score: number
}

/** The best `limit` of `scored`, best first (ties by label); sorts `scored` in place. */
export function rankScored(scored: ScoredLabel[], limit: number): ScoredLabel[] {
  scored.sort((a, b) => b.score - a.score || a.label - b.label)
  return scored.slice(0, limit)
}

/**
 * The second half of the Matryoshka funnel: exact cosine at `dims` for each (label, vector) of an ANN
 * shortlist; the best `limit`, best first (ties by label). A collection that keeps its rescoring
 * vectors in memory scores them in place instead (RescoreVectors.rescore).
 */
export function rescoreAtFullDims(query: Float32Array, vectors: Iterable<[number, Float32Array]>, dims: number, limit: number): ScoredLabel[] {
  const scored: ScoredLabel[] = []
  for (const [label, vector] of vectors) scored.push({ label, score: cosineAtDims(query, vector, dims) })
  return rankScored(scored, limit)
}
