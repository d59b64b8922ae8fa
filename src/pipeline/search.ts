import { errors } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import { denseSearch } from '../retrieval/dense-retriever.js'
import { elapsedMs, type Candidate } from './candidate.js'
import { checkDimensions, type CollectionService } from './collections.js'

export type Filter = Record<string, string | number | boolean | null>

export interface SearchRequest {
  query: string
  top_k: number
  dimensions?: number
  oversample?: number
  filter?: Filter
  include?: ('text' | 'metadata')[]
}

export interface SearchHit {
  id: string
  score: number
  text?: string
  metadata?: Record<string, unknown>
}

export interface SearchResponse {
  results: SearchHit[]
  timings: { embed_ms: number; retrieve_ms: number; rescore_ms: number; total_ms: number }
  query_truncated: boolean
  strategy: 'hnsw' | 'exact'
}

export interface SearchLimits {
  maxTopK: number
  defaultOversample: number
  maxOversample: number
}

const DEFAULT_LIMITS: SearchLimits = { maxTopK: 1000, defaultOversample: 4, maxOversample: 100 }

/** Turns pipeline candidates into response hits, keeping only the fields the caller asked for. */
export function toHits(candidates: readonly Candidate[], include: readonly string[] = ['text', 'metadata']): SearchHit[] {
  return candidates.map((c) => ({
    id: c.id,
    score: c.score,
    ...(include.includes('text') && { text: c.text }),
    ...(include.includes('metadata') && c.metadata !== undefined && { metadata: c.metadata }),
  }))
}

/**
 * One search request, end to end: embed the query, run the Matryoshka funnel, shape the response.
 * Every stage reports its own milliseconds.
 */
export class SearchPipeline {
  private readonly limits: SearchLimits

  constructor(
    private readonly collections: CollectionService,
    private readonly models: ModelRegistry,
    limits: Partial<SearchLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits }
  }

  async search(name: string, request: SearchRequest): Promise<SearchResponse> {
    const started = performance.now()
    const row = this.collections.store.requireCollection(name)
    if (request.top_k > this.limits.maxTopK) {
      throw errors.invalidValue('top_k', request.top_k, `use 1..${this.limits.maxTopK}`)
    }
    const oversample = request.oversample ?? this.limits.defaultOversample
    if (oversample > this.limits.maxOversample) {
      throw errors.invalidValue('oversample', oversample, `use 1..${this.limits.maxOversample}`)
    }
    const model = await this.models.embedder(row.model)
    const rescoreDims = request.dimensions ?? row.dims
    checkDimensions('dimensions', rescoreDims, row.dims, model.matryoshkaDims)

    const embedStart = performance.now()
    const embedded = await model.embed([request.query], 'query')
    const embedMs = elapsedMs(embedStart)

    const dense = denseSearch(this.collections.store, this.collections.denseIndex(name), {
      collection: name,
      query: embedded.vectors[0]!,
      topK: request.top_k,
      oversample,
      rescoreDims,
      ...(request.filter !== undefined && { filter: request.filter }),
    })
    return {
      results: toHits(dense.candidates, request.include),
      timings: { embed_ms: embedMs, retrieve_ms: dense.retrieve_ms, rescore_ms: dense.rescore_ms, total_ms: elapsedMs(started) },
      query_truncated: embedded.truncated[0]!,
      strategy: dense.strategy,
    }
  }
}
