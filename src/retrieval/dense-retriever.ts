import type { Candidate } from '../pipeline/candidate.js'
import { elapsedMs } from '../pipeline/candidate.js'
import type { SqliteStore, StoredDocument } from '../store/sqlite-store.js'
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

/** Below this many filter matches, scoring them all exactly beats asking HNSW to skip the rest. */
const EXACT_FILTER_LIMIT = 2048

const toCandidate = (doc: StoredDocument, score: number): Candidate => ({
  id: doc.id,
  text: doc.text,
  score,
  scores: { dense: score },
  ...(doc.metadata !== null && { metadata: doc.metadata }),
})

/** Scores `docs` exactly at `dims` and returns the best `topK`, best first. */
export function rescoreAtFullDims(query: Float32Array, docs: Iterable<StoredDocument>, dims: number, topK: number): Candidate[] {
  const scored: Candidate[] = []
  for (const doc of docs) scored.push(toCandidate(doc, cosineAtDims(query, doc.vector, dims)))
  scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
  return scored.slice(0, topK)
}

/**
 * The Matryoshka funnel: a coarse HNSW search on truncated vectors for topK × oversample candidates,
 * then exact cosine at full (or requested) dims on the shortlist, read from the durable store.
 */
export function denseSearch(store: SqliteStore, index: DenseIndex, input: DenseSearchInput): DenseSearchResult {
  const started = performance.now()
  const allowed = input.filter === undefined ? undefined : store.labelsMatching(input.collection, input.filter)
  if (allowed !== undefined && allowed.size <= EXACT_FILTER_LIMIT) {
    const docs = store.documentsByLabels(input.collection, [...allowed])
    const retrieveMs = elapsedMs(started)
    const rescoreStart = performance.now()
    const candidates = rescoreAtFullDims(input.query, docs.values(), input.rescoreDims, input.topK)
    return { candidates, retrieve_ms: retrieveMs, rescore_ms: elapsedMs(rescoreStart), strategy: 'exact' }
  }
  const shortlist = index.search(input.query, input.topK * input.oversample, allowed)
  const retrieveMs = elapsedMs(started)
  const rescoreStart = performance.now()
  const docs = store.documentsByLabels(input.collection, shortlist.map((n) => n.label))
  const candidates = rescoreAtFullDims(input.query, docs.values(), input.rescoreDims, input.topK)
  return { candidates, retrieve_ms: retrieveMs, rescore_ms: elapsedMs(rescoreStart), strategy: 'hnsw' }
}
