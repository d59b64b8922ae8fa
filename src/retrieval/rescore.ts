import { cosineAtDims } from './vector-math.js'

export interface ScoredLabel {
  label: number
  score: number
}

const better = (a: ScoredLabel, b: ScoredLabel): number => b.score - a.score || a.label - b.label

/**
 * The best `limit` of `scored`, best first (ties by label). A short list sorts; a long one keeps the
 * best `limit` by insertion (the funnel rescores top_k × oversample labels and keeps top_k: 400 -> 10
 * is about 5× faster than sorting all 400). May reorder `scored`.
 */
export function rankScored(scored: ScoredLabel[], limit: number): ScoredLabel[] {
  if (limit <= 0) return []
  if (scored.length <= limit * 4) return scored.sort(better).slice(0, limit)
  const best: ScoredLabel[] = []
  for (const item of scored) {
    if (best.length === limit && better(item, best[limit - 1]!) >= 0) continue
    let at = best.length === limit ? limit - 1 : best.length
    if (best.length < limit) best.push(item)
    while (at > 0 && better(item, best[at - 1]!) < 0) {
      best[at] = best[at - 1]!
      at--
    }
    best[at] = item
  }
  return best
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
  for (let i = 0; i < labels.length; i++) {
    if (size === keep && !before(i, best[keep - 1]!)) continue
    let at = size === keep ? keep - 1 : size++
    while (at > 0 && before(i, best[at - 1]!)) {
      best[at] = best[at - 1]!
      at--
    }
    best[at] = i
  }
  return Array.from(best, (i) => ({ label: labels[i]!, score: scores[i]! }))
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
