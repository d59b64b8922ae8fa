import type { Calibrators } from '../calibration/calibrator-store.js'
import { errors } from '../errors.js'
import { elapsedMs, type Candidate } from '../candidate.js'
import type { RelevanceSource } from '../schemas/rerank.js'
import { relevanceScores } from './relevance.js'
import type { Reranker } from './reranker.js'

export interface RerankDocumentsRequest {
  query: string
  documents: readonly string[]
  /** Reranker model id (a folder under the models directory, or `remote`). */
  model: string
  /** Keep only the best n; at most documents.length. */
  top_n?: number
  /** The request's signal: aborts the reranker (between batches or windows) when nobody waits any more. */
  signal?: AbortSignal
}

export interface RankedDocument {
  /** Position of the document in the request. */
  index: number
  text: string
  /** In 0..1: calibrated P(relevant), or the stage's default reading of the raw score (see `relevance`). */
  relevance_score: number
  /** The reranker's own score (cross-encoder logit, listwise 1/(rank+1)). */
  raw_score: number
}

export interface RerankDocumentsResult {
  model: string
  /** Best first. */
  results: RankedDocument[]
  relevance: RelevanceSource
  truncated_documents: number
  rerank_ms: number
}

export interface RerankDocumentsDeps {
  rerankers: { get(id: string): Promise<Reranker> }
  calibrators?: Calibrators
  maxDocuments: number
}

/**
 * Reranks the texts of one request with one reranker and reads its scores as relevance in 0..1: the
 * shared core of /v1/rerank and Cohere's /v2/rerank, which differ only in request and response shape.
 *
 * @example
 *   const { results } = await rerankDocuments(deps, { query: 'capital of france', documents: ['Paris is…', 'Berlin is…'], model })
 *   results[0].index   // 0
 */
export async function rerankDocuments(deps: RerankDocumentsDeps, request: RerankDocumentsRequest): Promise<RerankDocumentsResult> {
  const { query, documents, model, top_n, signal } = request
  if (documents.length > deps.maxDocuments) throw errors.batchTooLarge('documents', documents.length, deps.maxDocuments, 'FUNNEL_RERANK_MAX_DOCUMENTS')
  if (query.trim() === '') throw errors.invalidValue('query', query, 'query must contain a non-whitespace character')
  if (top_n !== undefined && top_n > documents.length) throw errors.invalidValue('top_n', top_n, `use 1..${documents.length} (the number of documents)`)
  const reranker = await deps.rerankers.get(model)
  const candidates: Candidate[] = documents.map((text, index) => ({ id: String(index), text, score: 0, scores: {} }))
  const started = performance.now()
  const outcome = await reranker.rank(query, candidates, { ...(top_n !== undefined && { topN: top_n }), ...(signal !== undefined && { signal }) })
  const rerankMs = elapsedMs(started)
  const relevance = relevanceScores(outcome.candidates, { model, scoreKey: reranker.scoreKey }, deps.calibrators)
  return {
    model,
    results: outcome.candidates.map((c, i) => ({
      index: Number(c.id),
      text: c.text,
      relevance_score: relevance.scores[i]!,
      raw_score: c.scores[reranker.scoreKey] ?? c.score,
    })),
    relevance: relevance.source,
    truncated_documents: outcome.truncatedPassages,
    rerank_ms: rerankMs,
  }
}
