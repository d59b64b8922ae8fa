import { cosineAtDims } from './vector-math.js'

export interface ScoredLabel {
  label: number
  score: number
}

/** The best `limit` of `scored`, best first (ties by label). */
export function rankScored(scored: readonly ScoredLabel[], limit: number): ScoredLabel[] {
  return topScored(
    scored.map((s) => s.label),
    scored.map((s) => s.score),
    limit,
  )
}

/**
 * The best `limit` of parallel (label, score) arrays as ScoredLabels, best first (ties by label),
 * the same order as rankScored; objects are made only for the ones kept.
 */
export function topScored(labels: ArrayLike<number>, scores: ArrayLike<number>, limit: number): ScoredLabel[] {
  const keep = Math.min(limit, labels.length)
  if (keep <= 0) return []
  const best = new Int32Array(keep)
  let size = 0
  const before = (i: number, j: number): boolean => scores[i]! > scores[j]! || (scores[i] === scores[j] && labels[i]! < labels[j]!)
  const toScored = (i: number): ScoredLabel => ({ label: labels[i]!, score: scores[i]! })
  // Keeping most of the list: sort it. Keeping few of many (the funnel: 400 -> 10): insert into the
  // best `keep`, about 5× faster than sorting all.
  if (labels.length <= keep * 4) {
    const order = Array.from({ length: labels.length }, (_, i) => i)
    return order.sort((i, j) => (before(i, j) ? -1 : before(j, i) ? 1 : 0)).slice(0, keep).map(toScored)
  }
  for (let i = 0; i < labels.length; i++) {
    if (size === keep && !before(i, best[keep - 1]!)) continue
    let at = size === keep ? keep - 1 : size++
    while (at > 0 && before(i, best[at - 1]!)) {
      best[at] = best[at - 1]!
      at--
    }
    best[at] = i
  }
  return Array.from(best, toScored)
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
