import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { elapsedMs } from '../candidate.js'
import { rerankDocuments, type RerankDocumentsResult } from '../rerank/rerank-documents.js'
import { ref } from '../schemas/common.js'
import { errorResponses } from '../schemas/errors.js'
import { RerankRequestSchema, RerankResponseSchema, type RerankRequest, type RerankResponse } from '../schemas/rerank.js'

/** The reranked documents in the request's terms: its ids, its texts when asked for, relevance under both field names. */
function toRerankResponse(request: RerankRequest, outcome: RerankDocumentsResult, started: number): RerankResponse {
  return {
    results: outcome.results.map((r) => {
      const given = request.documents[r.index]!
      const id = typeof given === 'string' ? undefined : given.id
      return {
        index: r.index,
        ...(id !== undefined && { id }),
        relevance_score: r.relevance_score,
        score: r.relevance_score,
        raw_score: r.raw_score,
        ...(request.return_documents === true && { document: { text: r.text } }),
      }
    }),
    model: outcome.model,
    relevance: outcome.relevance,
    truncated_documents: outcome.truncated_documents,
    timings: { rerank_ms: outcome.rerank_ms, total_ms: elapsedMs(started) },
  }
}

/** Cohere v1 / TEI / Infinity-shaped reranking for teams that bring their own retrieval. */
const rerank: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  app.post(
    '/v1/rerank',
    {
      schema: {
        operationId: 'rerank',
        tags: ['rerank'],
        summary: 'Rerank documents for a query (Cohere v1 / TEI / Infinity shape)',
        body: ref(RerankRequestSchema),
        response: { 200: ref(RerankResponseSchema), ...errorResponses(400, 413, 502, 503) },
      },
    },
    async (request) => {
      const started = performance.now()
      const { query, documents, top_n } = request.body
      const model = request.body.model ?? app.rerankDefaults.stages[0]?.model
      if (model === undefined) throw errors.invalidRequest('model', `no default reranker is configured (FUNNEL_RERANK_STAGES); name one of: ${(await app.rerankers.ready()).join(', ') || 'none'}`)
      const outcome = await rerankDocuments(
        { rerankers: app.rerankers, calibrators: app.calibrators, maxDocuments: opts.config.rerankMaxDocuments },
        { query, documents: documents.map((d) => (typeof d === 'string' ? d : d.text)), model, ...(top_n !== undefined && { top_n }), ...(request.workSignal !== null && { signal: request.workSignal }) },
      )
      return toRerankResponse(request.body, outcome, started)
    },
  )
}

export default rerank
