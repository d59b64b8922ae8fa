import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { elapsedMs } from '../candidate.js'
import { rerankDocuments, type RerankDocumentsResult } from '../rerank/rerank-documents.js'
import { ref } from '../schemas/common.js'
import { errorResponses } from '../schemas/errors.js'
import { RerankV2RequestSchema, RerankV2ResponseSchema, type RerankV2Request, type RerankV2Response } from '../schemas/rerank-v2.js'

/** Cohere bills one search unit per query with up to 100 documents. */
const DOCUMENTS_PER_SEARCH_UNIT = 100

/** Cohere's response: a fresh id, billed units as Cohere counts them, a warning for each option accepted but not applied. */
function toRerankV2Response(request: RerankV2Request, outcome: RerankDocumentsResult, started: number): RerankV2Response {
  const warnings =
    request.max_tokens_per_doc === undefined
      ? []
      : [`max_tokens_per_doc is not applied: documents are cut to the model's context (${outcome.truncated_documents} of ${request.documents.length} were cut)`]
  return {
    id: randomUUID(),
    results: outcome.results.map((r) => ({ index: r.index, relevance_score: r.relevance_score, raw_score: r.raw_score })),
    meta: {
      api_version: { version: '2' },
      billed_units: { search_units: Math.ceil(request.documents.length / DOCUMENTS_PER_SEARCH_UNIT) },
      ...(warnings.length > 0 && { warnings }),
    },
    model: outcome.model,
    relevance: outcome.relevance,
    truncated_documents: outcome.truncated_documents,
    timings: { rerank_ms: outcome.rerank_ms, total_ms: elapsedMs(started) },
  }
}

/**
 * Cohere's v2 rerank (what `cohere.ClientV2(...).rerank` calls), so Cohere clients work by changing
 * the base URL. Funnel's fields (`raw_score`, `relevance`, `timings`) ride along; Cohere's SDK keeps them.
 */
const rerankV2: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  app.post(
    '/v2/rerank',
    {
      schema: {
        operationId: 'rerankV2',
        tags: ['rerank'],
        summary: 'Rerank documents for a query (Cohere v2 shape)',
        body: ref(RerankV2RequestSchema),
        response: { 200: ref(RerankV2ResponseSchema), ...errorResponses(400, 413, 502, 503) },
      },
    },
    async (request) => {
      const started = performance.now()
      const { model, query, documents, top_n, relevant_spans } = request.body
      if (relevant_spans?.mode === 'enabled') throw errors.invalidValue('relevant_spans.mode', 'enabled', "relevant spans are not supported; use 'disabled' or leave relevant_spans out")
      const outcome = await rerankDocuments(
        { rerankers: app.rerankers, calibrators: app.calibrators, maxDocuments: opts.config.rerankMaxDocuments },
        { query, documents, model, ...(top_n !== undefined && { top_n: Math.min(top_n, documents.length) }), ...(request.workSignal !== null && { signal: request.workSignal }) },
      )
      return toRerankV2Response(request.body, outcome, started)
    },
  )
}

export default rerankV2
