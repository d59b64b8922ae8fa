import { errors } from '../../errors.js'
import { MAX_WEIGHTED_TERMS, type WeightedTerm } from '../../retrieval/bm25-index.js'

/**
 * RM3's weighted terms as one Weaviate BM25 query. Weaviate's BM25 has no per-term weights, but it
 * counts a repeated query term once per occurrence (its searcher multiplies the term's score by its
 * count), so a weight becomes a repetition count: the largest weight is repeated `RESOLUTION` times
 * and the others in proportion, rounded. Scores are scaled back by `scale`, so they read as the
 * weighted sum the embedded backend computes. A term under half a step of the largest weight (0.5%)
 * is dropped; RM3's weights span about two orders of magnitude, so in practice none is.
 *
 * @example
 *   weightedQuery([{ term: 'cat', weight: 0.6 }, { term: 'dog', weight: 0.3 }])
 *   // -> { query: 'cat' x 100 + ' dog' x 50, scale: 0.006 }
 */
export const RESOLUTION = 100

export interface WeightedQuery {
  /** Whitespace-separated terms, empty when no term is left. */
  query: string
  /** Multiply Weaviate's scores by this to get sum(weight x term score). */
  scale: number
}

export function weightedQuery(terms: readonly WeightedTerm[]): WeightedQuery {
  const weights = new Map<string, number>()
  for (const { term, weight } of terms) {
    if (!Number.isFinite(weight)) throw errors.invalidValue('terms.weight', weight, 'weights must be finite numbers')
    if (term.length > 0) weights.set(term, (weights.get(term) ?? 0) + weight)
  }
  const kept = [...weights].filter(([, weight]) => weight !== 0)
  if (kept.length > MAX_WEIGHTED_TERMS) throw errors.invalidRequest('terms', `${kept.length} distinct terms exceeds the maximum of ${MAX_WEIGHTED_TERMS}`)
  if (kept.some(([, weight]) => weight < 0)) {
    throw errors.invalidValue('terms.weight', kept.find(([, weight]) => weight < 0)![1], 'the weaviate backend takes positive weights only (BM25 query terms are repeated, not weighted)')
  }
  if (kept.some(([term]) => /\s/.test(term))) throw errors.invalidValue('terms.term', kept.find(([term]) => /\s/.test(term))![0], 'analysed terms hold no whitespace')
  if (kept.length === 0) return { query: '', scale: 1 }
  const max = Math.max(...kept.map(([, weight]) => weight))
  const parts: string[] = []
  for (const [term, weight] of kept) {
    const repeats = Math.round((weight / max) * RESOLUTION)
    for (let i = 0; i < repeats; i++) parts.push(term)
  }
  return { query: parts.join(' '), scale: max / RESOLUTION }
}
