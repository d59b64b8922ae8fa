import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { elapsedMs } from '../candidate.js'
import { rerankDocuments } from '../rerank/rerank-documents.js'
import { ref } from './named-schema.js'
import { RelevanceSource } from './rerank.js'
import { errorResponses } from './schemas.js'

/** Cohere bills one search unit per query with up to 100 documents. */
const DOCUMENTS_PER_SEARCH_UNIT = 100

export const RerankV2Request = Type.Object(
  {
    model: Type.String({ minLength: 1, description: "a Funnel reranker model id (not a Cohere model name); an unknown one answers 400 naming the models on this server" }),
    query: Type.String({ minLength: 1 }),
    documents: Type.Array(Type.String(), { minItems: 1, description: 'texts to rank (at most FUNNEL_RERANK_MAX_DOCUMENTS)' }),
    top_n: Type.Optional(Type.Integer({ minimum: 1, description: 'return only the best n; more than the documents returns them all, as Cohere does' })),
    max_tokens_per_doc: Type.Optional(
      Type.Integer({ minimum: 1, description: "accepted for compatibility; documents are cut to the model's own context instead (a warning in meta.warnings says so)" }),
    ),
    priority: Type.Optional(Type.Integer({ minimum: 0, description: 'accepted for compatibility; Funnel does not prioritise requests' })),
    relevant_spans: Type.Optional(
      Type.Object(
        {
          mode: Type.Unsafe<'enabled' | 'disabled'>({ type: 'string', enum: ['enabled', 'disabled'] }),
          threshold: Type.Optional(Type.Number()),
          max_spans: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { description: "Cohere v5 relevant spans: only mode 'disabled' is supported" },
      ),
    ),
  },
  { additionalProperties: false, $id: 'RerankV2Request' },
)

export const RerankV2Response = Type.Object(
  {
    id: Type.String({ description: 'a fresh id per request' }),
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'position of the document in the request' }),
        relevance_score: Type.Number({ minimum: 0, maximum: 1, description: 'relevance in 0..1 (see `relevance` for how it was read from raw_score)' }),
        raw_score: Type.Number({ description: "the reranker's own score: cross-encoder logit, listwise 1/(rank+1)" }),
      }),
      { description: 'best first' },
    ),
    meta: Type.Object({
      api_version: Type.Object({ version: Type.Literal('2') }),
      billed_units: Type.Object({ search_units: Type.Integer({ description: 'one per 100 documents, as Cohere counts them (nothing is billed)' }) }),
      warnings: Type.Optional(Type.Array(Type.String())),
    }),
    model: Type.String(),
    relevance: ref(RelevanceSource),
    truncated_documents: Type.Integer({ description: 'documents cut to fit the model context' }),
    timings: Type.Object({ rerank_ms: Type.Number(), total_ms: Type.Number() }),
  },
  { $id: 'RerankV2Response' },
)

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
        body: ref(RerankV2Request),
        response: { 200: ref(RerankV2Response), ...errorResponses(400, 413, 502, 503) },
      },
    },
    async (request) => {
      const started = performance.now()
      const { model, query, documents, top_n, max_tokens_per_doc, relevant_spans } = request.body
      if (relevant_spans?.mode === 'enabled') throw errors.invalidValue('relevant_spans.mode', 'enabled', "relevant spans are not supported; use 'disabled' or leave relevant_spans out")
      const outcome = await rerankDocuments(
        { rerankers: app.rerankers, calibrators: app.calibrators, maxDocuments: opts.config.rerankMaxDocuments },
        { query, documents, model, ...(top_n !== undefined && { top_n: Math.min(top_n, documents.length) }) },
      )
      const warnings =
        max_tokens_per_doc === undefined
          ? []
          : [`max_tokens_per_doc is not applied: documents are cut to the model's context (${outcome.truncated_documents} of ${documents.length} were cut)`]
      return {
        id: randomUUID(),
        results: outcome.results.map((r) => ({ index: r.index, relevance_score: r.relevance_score, raw_score: r.raw_score })),
        meta: {
          api_version: { version: '2' as const },
          billed_units: { search_units: Math.ceil(documents.length / DOCUMENTS_PER_SEARCH_UNIT) },
          ...(warnings.length > 0 && { warnings }),
        },
        model,
        relevance: outcome.relevance,
        truncated_documents: outcome.truncated_documents,
        timings: { rerank_ms: outcome.rerank_ms, total_ms: elapsedMs(started) },
      }
    },
  )
}

export default rerankV2
