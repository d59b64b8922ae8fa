import { errors } from '../errors.js'

/**
 * Fusion of ranked lists from several retrievers (dense, lexical, ...) into one list. Each fused hit
 * keeps, per retriever that returned it, its rank and raw score there, so a response can show why
 * a document ranks where it does.
 *
 * Two fusers:
 * - `reciprocalRankFusion`: sum of weight / (k + rank), Cormack et al. 2009, k = 60 by default.
 *   Uses ranks only, so it needs no score calibration between retrievers.
 * - `weightedScoreFusion`: sum of weight x min-max-normalised score. Min-max rather than z-score:
 *   a retriever returns a short head of its score distribution (top 100 of millions), far from
 *   normal, so its mean and deviation depend on how many hits were asked for; min-max maps every
 *   list onto [0, 1] with its best hit at 1 whatever the length, and Bruch et al. (2023, "An
 *   Analysis of Fusion Functions for Hybrid Retrieval") find the min-max convex combination at
 *   least as good as z-score and more robust than RRF once the weight is tuned. A hit missing from
 *   a list gets 0 from it, the value of that list's worst hit.
 *
 * @example
 *   const fused = reciprocalRankFusion({ dense: denseHits, lexical: bm25Hits }, { k: 60 })
 *   fused[0] // { id: 'd7', score: 0.0325, sources: { dense: { rank: 2, score: 0.81 }, lexical: { rank: 1, score: 12.3 } } }
 */

export interface RankedHit {
  id: string
  score: number
}

export interface SourceHit {
  /** 1-based position in that retriever's list. */
  rank: number
  /** The retriever's raw score. */
  score: number
}

export interface FusedHit {
  id: string
  score: number
  /** Retriever name -> where this hit was in its list; absent when that retriever did not return it. */
  sources: Record<string, SourceHit>
}

/** Retriever name -> its hits, best first. */
export type RankedLists = Readonly<Record<string, readonly RankedHit[]>>

export interface FusionOptions {
  /** Retriever name -> weight (default 1 for every list). */
  weights?: Readonly<Record<string, number>>
  /** Keep the best `limit` fused hits; default all. */
  limit?: number
}

export interface RrfOptions extends FusionOptions {
  /** The rank constant; default 60. */
  k?: number
}

export const DEFAULT_RRF_K = 60

/** Reciprocal rank fusion: score(d) = sum over lists of weight / (k + rank of d in that list). */
export function reciprocalRankFusion(lists: RankedLists, options: RrfOptions = {}): FusedHit[] {
  const k = options.k ?? DEFAULT_RRF_K
  if (!Number.isFinite(k) || k < 0) throw errors.invalidValue('k', k, 'k must be a finite number >= 0')
  return fuse(lists, options, (hits) => hits.map((_, i) => 1 / (k + i + 1)))
}

/** score(d) = sum over lists of weight x (score - min) / (max - min) within that list. */
export function weightedScoreFusion(lists: RankedLists, options: FusionOptions = {}): FusedHit[] {
  return fuse(lists, options, (hits) => minMaxNormalize(hits.map((hit) => hit.score)))
}

/** Scales scores onto [0, 1]; when all are equal (or there is one) each becomes 1. */
export function minMaxNormalize(scores: readonly number[]): number[] {
  let min = Infinity
  let max = -Infinity
  for (const score of scores) {
    if (!Number.isFinite(score)) throw errors.invalidValue('score', score, 'scores must be finite numbers')
    if (score < min) min = score
    if (score > max) max = score
  }
  const range = max - min
  return scores.map((score) => (range > 0 ? (score - min) / range : 1))
}

/** Adds weight x contribution(list)[i] per hit, recording each hit's rank and raw score per list. */
function fuse(
  lists: RankedLists,
  options: FusionOptions,
  contributions: (hits: readonly RankedHit[]) => number[],
): FusedHit[] {
  const weights = resolveWeights(lists, options.weights)
  const fused = new Map<string, FusedHit>()
  for (const [name, hits] of Object.entries(lists)) {
    const weight = weights[name]!
    const seen = new Set<string>()
    const unique = hits.filter((hit) => !seen.has(hit.id) && seen.add(hit.id))
    const parts = contributions(unique)
    unique.forEach((hit, i) => {
      let entry = fused.get(hit.id)
      if (entry === undefined) fused.set(hit.id, (entry = { id: hit.id, score: 0, sources: {} }))
      entry.score += weight * parts[i]!
      entry.sources[name] = { rank: i + 1, score: hit.score }
    })
  }
  const ranked = [...fused.values()].sort(byScoreThenBestRank)
  return options.limit === undefined ? ranked : ranked.slice(0, options.limit)
}

function resolveWeights(lists: RankedLists, weights: Readonly<Record<string, number>> = {}): Record<string, number> {
  const names = Object.keys(lists)
  for (const [name, weight] of Object.entries(weights)) {
    if (!names.includes(name)) {
      throw errors.invalidValue('weights', name, `weights name the fused lists: ${names.map((n) => `'${n}'`).join(', ')}`)
    }
    if (!Number.isFinite(weight) || weight < 0) throw errors.invalidValue(`weights.${name}`, weight, 'weights must be finite and >= 0')
  }
  return Object.fromEntries(names.map((name) => [name, weights[name] ?? 1]))
}

const bestRank = (hit: FusedHit): number => Math.min(...Object.values(hit.sources).map((source) => source.rank))

/** Ties (common in RRF: rank 1 in one list vs rank 1 in another) go to the better best rank, then the id. */
function byScoreThenBestRank(a: FusedHit, b: FusedHit): number {
  return b.score - a.score || bestRank(a) - bestRank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
