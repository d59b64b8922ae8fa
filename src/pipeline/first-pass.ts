import { errors } from '../errors.js'
import type { Bm25Index } from '../retrieval/bm25-index.js'
import { denseSearch } from '../retrieval/dense-retriever.js'
import type { DenseIndex } from '../retrieval/hnsw-index.js'
import { reciprocalRankFusion, weightedScoreFusion, type FusedHit, type RankedHit } from '../retrieval/fusion.js'
import type { SqliteStore } from '../store/sqlite-store.js'
import { elapsedMs, type Candidate } from '../candidate.js'

export type RetrievalMode = 'dense' | 'lexical' | 'hybrid'
export type Filter = Record<string, string | number | boolean | null>

export interface FusionSettings {
  method: 'rrf' | 'weighted'
  k: number
  weights: { dense: number; lexical: number }
}

export const DEFAULT_FUSION: FusionSettings = { method: 'rrf', k: 60, weights: { dense: 1, lexical: 1 } }

/** What a first-pass retrieval needs; the query vector is absent in lexical mode. */
export interface FirstPassInput {
  store: SqliteStore
  collection: string
  mode: RetrievalMode
  dense?: { index: DenseIndex; query: Float32Array; oversample: number; rescoreDims: number }
  /** A query string (refused past `maxTerms` distinct analysed terms), or RM3's weighted terms. */
  lexical?: { index: Bm25Index; query: string; maxTerms?: number } | { index: Bm25Index; terms: { term: string; weight: number }[] }
  /** How many candidates each retriever returns (and the fused list keeps). */
  depth: number
  filter?: Filter
  fusion: FusionSettings
}

export interface FirstPassResult {
  candidates: Candidate[]
  timings: { retrieve_ms: number; rescore_ms: number; lexical_ms: number; fusion_ms: number }
  /** How the first pass found its candidates: HNSW or exact (brute force) dense search, or BM25 alone. */
  strategy: RetrievalStrategy
}

export type RetrievalStrategy = 'hnsw' | 'exact' | 'bm25'

/** BM25 has no metadata filter: over-fetch, then keep the ids the filter allows. */
function lexicalSearch(input: FirstPassInput): RankedHit[] {
  const lexical = input.lexical!
  const limit = input.filter === undefined ? input.depth : Math.max(input.depth * 10, 1000)
  const hits = 'terms' in lexical ? lexical.index.searchTerms(lexical.terms, limit) : lexical.index.search(lexical.query, limit, lexical.maxTerms)
  if (input.filter === undefined) return hits
  const allowed = input.store.idsMatching(input.collection, input.filter)
  return hits.filter((h) => allowed.has(h.id)).slice(0, input.depth)
}

function toCandidates(store: SqliteStore, collection: string, fused: readonly FusedHit[], scoreName: 'lexical' | 'fused'): Candidate[] {
  const docs = store.documentsByIds(collection, fused.map((f) => f.id))
  return fused.flatMap((hit) => {
    const doc = docs.get(hit.id)
    if (doc === undefined) return []
    const candidate: Candidate = {
      id: hit.id,
      text: doc.text,
      score: hit.score,
      scores: {
        [scoreName]: hit.score,
        ...(hit.sources.dense !== undefined && { dense: hit.sources.dense.score }),
        ...(hit.sources.lexical !== undefined && { lexical: hit.sources.lexical.score }),
      },
      sources: hit.sources,
      ...(doc.metadata !== null && { metadata: doc.metadata }),
    }
    return [candidate]
  })
}

/** Dense, lexical or fused retrieval of `depth` candidates, best first, each with its per-retriever rank and score. */
export function firstPass(input: FirstPassInput): FirstPassResult {
  const timings = { retrieve_ms: 0, rescore_ms: 0, lexical_ms: 0, fusion_ms: 0 }
  let strategy: RetrievalStrategy = 'bm25'
  let denseHits: Candidate[] = []
  if (input.mode !== 'lexical') {
    if (input.dense === undefined) throw errors.invalidRequest('mode', `${input.mode} retrieval needs a query embedding`)
    const dense = denseSearch(input.store, input.dense.index, {
      collection: input.collection,
      query: input.dense.query,
      topK: input.depth,
      oversample: input.dense.oversample,
      rescoreDims: input.dense.rescoreDims,
      ...(input.filter !== undefined && { filter: input.filter }),
    })
    timings.retrieve_ms = dense.retrieve_ms
    timings.rescore_ms = dense.rescore_ms
    strategy = dense.strategy
    denseHits = dense.candidates.map((c, i) => ({ ...c, sources: { dense: { rank: i + 1, score: c.score } } }))
    if (input.mode === 'dense') return { candidates: denseHits, timings, strategy }
  }
  const lexicalStart = performance.now()
  const lexicalHits = lexicalSearch(input)
  timings.lexical_ms = elapsedMs(lexicalStart)
  if (input.mode === 'lexical') {
    const ranked: FusedHit[] = lexicalHits.map((h, i) => ({ id: h.id, score: h.score, sources: { lexical: { rank: i + 1, score: h.score } } }))
    return { candidates: toCandidates(input.store, input.collection, ranked, 'lexical'), timings, strategy }
  }
  const fusionStart = performance.now()
  const lists = { dense: denseHits.map((c) => ({ id: c.id, score: c.score })), lexical: lexicalHits }
  const options = { weights: input.fusion.weights, limit: input.depth }
  const fused = input.fusion.method === 'rrf' ? reciprocalRankFusion(lists, { ...options, k: input.fusion.k }) : weightedScoreFusion(lists, options)
  const candidates = toCandidates(input.store, input.collection, fused, 'fused')
  timings.fusion_ms = elapsedMs(fusionStart)
  return { candidates, timings, strategy }
}
