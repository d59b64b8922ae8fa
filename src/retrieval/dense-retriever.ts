import type { Candidate } from '../candidate.js'
import { elapsedMs } from '../candidate.js'
import type { SqliteStore } from '../store/sqlite-store.js'
import type { DenseIndex } from './hnsw-index.js'
import { cosineAtDims } from './vector-math.js'

export interface DenseSearchInput {
  collection: string
  query: Float32Array
  topK: number
  /** HNSW fetches topK × oversample candidates at the index dims before exact rescoring. */
  oversample: number
  /** Dims for the exact rescoring (default: full model dims). */
  rescoreDims: number
  filter?: Record<string, string | number | boolean | null>
}

export interface DenseSearchResult {
  candidates: Candidate[]
  retrieve_ms: number
  rescore_ms: number
  /** 'hnsw' normally; 'exact' when a selective filter made brute force over the matches cheaper. */
  strategy: 'hnsw' | 'exact'
}

export interface ScoredLabel {
  label: number
  score: number
}

/** Below this many filter matches, scoring them all exactly beats asking HNSW to skip the rest. */
const EXACT_FILTER_LIMIT = 2048

/** Exact cosine at `dims` for each (label, vector); the best `topK`, best first (ties by label). */
export function rescoreAtFullDims(query: Float32Array, vectors: Iterable<[number, Float32Array]>, dims: number, topK: number): ScoredLabel[] {
  const scored: ScoredLabel[] = []
  for (const [label, vector] of vectors) scored.push({ label, score: cosineAtDims(query, vector, dims) })
  scored.sort((a, b) => b.score - a.score || a.label - b.label)
  return scored.slice(0, topK)
}

/** Reads text and metadata for the final hits only. */
function hydrate(store: SqliteStore, collection: string, hits: readonly ScoredLabel[]): Candidate[] {
  const docs = store.documentsByLabels(collection, hits.map((h) => h.label))
  return hits.flatMap((hit) => {
    const doc = docs.get(hit.label)
    if (doc === undefined) return []
    return [{ id: doc.id, text: doc.text, score: hit.score, scores: { dense: hit.score }, ...(doc.metadata !== null && { metadata: doc.metadata }) }]
  })
}

/**
 * The Matryoshka funnel: a coarse HNSW search on truncated vectors for topK × oversample candidates,
 * then exact cosine at full (or requested) dims on the shortlist's vectors, read from the durable
 * store; text and metadata are read for the final topK only. When the index is at the rescoring dims
 * the HNSW scores are already exact and the rescoring read is skipped.
 */
export function denseSearch(store: SqliteStore, index: DenseIndex, input: DenseSearchInput): DenseSearchResult {
  const started = performance.now()
  const allowed = input.filter === undefined ? undefined : store.labelsMatching(input.collection, input.filter)
  const exact = allowed !== undefined && allowed.size <= EXACT_FILTER_LIMIT
  const neighbours = exact ? undefined : index.search(input.query, input.topK * input.oversample, allowed)
  const retrieveMs = elapsedMs(started)
  const rescoreStart = performance.now()
  // An index at the rescoring dims already holds the exact vectors: its inner products are the
  // cosines rescoring would compute, so the vectors are not read back from SQLite.
  const hits =
    neighbours !== undefined && index.settings.dims === input.rescoreDims
      ? neighbours
          .map((n) => ({ label: n.label, score: n.similarity }))
          .sort((a, b) => b.score - a.score || a.label - b.label)
          .slice(0, input.topK)
      : rescoreAtFullDims(input.query, store.vectorsByLabels(neighbours?.map((n) => n.label) ?? [...allowed!]), input.rescoreDims, input.topK)
  const candidates = hydrate(store, input.collection, hits)
  return { candidates, retrieve_ms: retrieveMs, rescore_ms: elapsedMs(rescoreStart), strategy: exact ? 'exact' : 'hnsw' }
}
