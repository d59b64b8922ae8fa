import { errors } from '../errors.js'
import type { CollectionRecord, Filter } from '../store/backend.js'
import { DEFAULT_PRF, type PrfSettings } from './feedback.js'
import { DEFAULT_FUSION, type FusionSettings, type RetrievalMode } from './first-pass.js'
import { resolveRerank, type RerankDefaults } from './rerank-stage.js'
import type { SearchRequest } from '../schemas/search.js'

export interface SearchLimits {
  maxTopK: number
  defaultOversample: number
  maxOversample: number
  /** Candidates each retriever contributes to fusion and feedback (at least top_k). */
  defaultCandidates: number
  /** Most distinct analysed terms a BM25 query may have (FUNNEL_MAX_QUERY_TERMS). */
  maxQueryTerms: number
}

export const DEFAULT_LIMITS: SearchLimits = { maxTopK: 1000, defaultOversample: 4, maxOversample: 100, defaultCandidates: 100, maxQueryTerms: 256 }

/** Everything a search will do, resolved against the collection and the server's limits before any work starts. */
export interface SearchPlan {
  query: string
  top_k: number
  mode: RetrievalMode
  /** First-pass hits each retriever returns: at least top_k and the first rerank stage's top_n. */
  candidates: number
  oversample: number
  /** The request's HNSW walk width, when it set one (ef_search). */
  efSearch?: number
  /** Dims of the exact rescoring (the model's full dims unless the request asks for fewer). */
  rescoreDims: number
  filter?: Filter
  fusion: FusionSettings
  prf: PrfSettings
  rerank?: { stages: { model: string; top_n: number }[]; budgetMs: number }
  include: readonly string[]
  min_score?: number
  debug: boolean
}

/** The mode a collection searches in when the request does not say: its own setting, else the model's recommendation. */
export function defaultMode(settings: Record<string, unknown>, recommended: RetrievalMode | undefined): RetrievalMode {
  const own = settings.default_mode
  if (own === 'dense' || own === 'lexical' || own === 'hybrid') return own
  return recommended ?? 'dense'
}

/**
 * Validates a request against the server's limits and resolves every default (mode, candidates,
 * fusion, feedback, rerank stages), so the stages that follow read one settled plan.
 */
export function planSearch(
  request: SearchRequest,
  collection: CollectionRecord,
  context: { limits: SearchLimits; rerankDefaults: RerankDefaults; rerankAvailable: boolean; recommendedMode: RetrievalMode | undefined },
): SearchPlan {
  const { limits } = context
  if (request.top_k > limits.maxTopK) throw errors.invalidValue('top_k', request.top_k, `use 1..${limits.maxTopK}`)
  const oversample = request.oversample ?? limits.defaultOversample
  if (oversample > limits.maxOversample) throw errors.invalidValue('oversample', oversample, `use 1..${limits.maxOversample}`)
  const mode = request.mode ?? defaultMode(collection.settings, context.recommendedMode)
  const prf: PrfSettings = { ...DEFAULT_PRF, ...(request.prf !== undefined && { enabled: true }), ...request.prf }
  const rerank = request.rerank === undefined ? undefined : resolveRerank(request.rerank, context.rerankDefaults)
  if (rerank !== undefined && !context.rerankAvailable) throw errors.invalidRequest('rerank', 'reranking is not configured on this server')
  const wanted = Math.max(request.top_k, rerank?.stages[0]!.top_n ?? 0)
  const candidates = Math.max(wanted, request.fusion?.candidates ?? (mode === 'dense' && !prf.enabled ? wanted : limits.defaultCandidates))
  if (prf.enabled && prf.depth > candidates) {
    throw errors.invalidValue('prf.depth', prf.depth, `feedback depth must not exceed the candidate list (${candidates}); raise fusion.candidates or lower prf.depth`)
  }
  if (prf.enabled && prf.source === 'rerank' && rerank === undefined) {
    throw errors.invalidValue('prf.source', 'rerank', "reranker-judged feedback needs a rerank stage; add rerank or use source 'retrieval'")
  }
  const filter = request.filter !== undefined && Object.keys(request.filter).length > 0 ? request.filter : undefined
  return {
    query: request.query,
    top_k: request.top_k,
    mode,
    candidates,
    oversample,
    ...(request.ef_search !== undefined && { efSearch: request.ef_search }),
    rescoreDims: request.dimensions ?? collection.dims,
    ...(filter !== undefined && { filter }),
    fusion: {
      method: request.fusion?.method ?? DEFAULT_FUSION.method,
      k: request.fusion?.k ?? DEFAULT_FUSION.k,
      weights: { ...DEFAULT_FUSION.weights, ...request.fusion?.weights },
    },
    prf,
    ...(rerank !== undefined && { rerank }),
    include: request.include ?? ['text', 'metadata'],
    ...(request.min_score !== undefined && { min_score: request.min_score }),
    debug: request.debug === true,
  }
}
