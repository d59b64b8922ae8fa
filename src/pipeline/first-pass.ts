import { elapsedMs, type Hit } from '../candidate.js'
import { errors } from '../errors.js'
import { yieldToEventLoop } from '../event-loop.js'
import type { WeightedTerm } from '../retrieval/bm25-index.js'
import { reciprocalRankFusion, weightedScoreFusion, type FusedHit, type RankedHit } from '../retrieval/fusion.js'
import type { FusionMethod, RetrievalMode, RetrievalStrategy } from '../schemas/search.js'
import type { Backend, Filter } from '../store/backend.js'

export type { RetrievalMode, RetrievalStrategy } from '../schemas/search.js'

export interface FusionSettings {
  method: FusionMethod
  k: number
  weights: { dense: number; lexical: number }
}

export const DEFAULT_FUSION: FusionSettings = { method: 'rrf', k: 60, weights: { dense: 1, lexical: 1 } }

/** What a first-pass retrieval needs; the query vector is absent in lexical mode. */
export interface FirstPassInput {
  backend: Backend
  collection: string
  mode: RetrievalMode
  dense?: { query: Float32Array; oversample: number; rescoreDims: number; efSearch?: number }
  /** A query string (refused past `maxTerms` distinct analysed terms), or RM3's weighted terms. */
  lexical: { query: string; maxTerms?: number } | { terms: readonly WeightedTerm[] }
  /** How many hits each retriever returns (and the fused list keeps): the request's `fusion.candidates`. */
  candidates: number
  filter?: Filter
  fusion: FusionSettings
}

export interface FirstPassResult {
  hits: Hit[]
  timings: { retrieve_ms: number; rescore_ms: number; lexical_ms: number; fusion_ms: number }
  /** How the first pass found its hits: HNSW or exact (brute force) dense search, or BM25 alone. */
  strategy: RetrievalStrategy
}


const toHits = (fused: readonly FusedHit[], scoreName: 'lexical' | 'fused'): Hit[] =>
  fused.map((hit) => ({
    id: hit.id,
    score: hit.score,
    scores: {
      [scoreName]: hit.score,
      ...(hit.sources.dense !== undefined && { dense: hit.sources.dense.score }),
      ...(hit.sources.lexical !== undefined && { lexical: hit.sources.lexical.score }),
    },
    sources: hit.sources,
  }))

/**
 * Dense, lexical or fused retrieval of `candidates` hits, best first, each with its per-retriever rank and
 * score. Texts are not read here: a stage or the response reads those it needs (see hydrate).
 */
export async function firstPass(input: FirstPassInput): Promise<FirstPassResult> {
  const timings = { retrieve_ms: 0, rescore_ms: 0, lexical_ms: 0, fusion_ms: 0 }
  const filter = input.filter
  let strategy: RetrievalStrategy = 'bm25'
  let denseHits: (RankedHit & { rank: number })[] = []
  if (input.mode !== 'lexical') {
    if (input.dense === undefined) throw errors.invalidRequest('mode', `${input.mode} retrieval needs a query embedding`)
    const dense = await input.backend.denseSearch(input.collection, {
      vector: input.dense.query,
      limit: input.candidates,
      oversample: input.dense.oversample,
      rescoreDims: input.dense.rescoreDims,
      ...(input.dense.efSearch !== undefined && { efSearch: input.dense.efSearch }),
      ...(filter !== undefined && { filter }),
    })
    timings.retrieve_ms = dense.retrieve_ms
    timings.rescore_ms = dense.rescore_ms
    strategy = dense.strategy
    denseHits = dense.hits.map((h, i) => ({ id: h.id, score: h.score, rank: i + 1 }))
    if (input.mode === 'dense') {
      return { hits: denseHits.map((h) => ({ id: h.id, score: h.score, scores: { dense: h.score }, sources: { dense: { rank: h.rank, score: h.score } } })), timings, strategy }
    }
  }
  // The embedded backend answers each retrieval synchronously: without a yield between them a hybrid
  // search over 1,000 candidates was one ~100 ms stretch (dense + BM25 + fusion; issue 13, finding 4).
  if (input.mode === 'hybrid') await yieldToEventLoop()
  const lexicalStart = performance.now()
  const lexicalHits = (await input.backend.lexicalSearch(input.collection, { ...input.lexical, limit: input.candidates, ...(filter !== undefined && { filter }) })).map((h, i) => ({ ...h, rank: i + 1 }))
  timings.lexical_ms = elapsedMs(lexicalStart)
  if (input.mode === 'lexical') {
    return { hits: toHits(lexicalHits.map((h) => ({ id: h.id, score: h.score, sources: { lexical: { rank: h.rank, score: h.score } } })), 'lexical'), timings, strategy }
  }
  await yieldToEventLoop()
  const fusionStart = performance.now()
  const lists = { dense: denseHits, lexical: lexicalHits }
  const options = { weights: input.fusion.weights, limit: input.candidates }
  const fused = input.fusion.method === 'rrf' ? reciprocalRankFusion(lists, { ...options, k: input.fusion.k }) : weightedScoreFusion(lists, options)
  timings.fusion_ms = elapsedMs(fusionStart)
  return { hits: toHits(fused, 'fused'), timings, strategy }
}
