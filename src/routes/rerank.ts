import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { elapsedMs } from '../candidate.js'
import { rerankDocuments } from '../rerank/rerank-documents.js'
import type { RelevanceSource as RelevanceSourceName } from '../rerank/relevance.js'
import { ref } from './named-schema.js'
import { errorResponses } from './schemas.js'

/** How `relevance_score` was read from the raw score (src/rerank/relevance.ts). */
export const RelevanceSource = Type.Unsafe<RelevanceSourceName>({
  $id: 'RelevanceSource',
  type: 'string',
  enum: ['calibrator', 'sigmoid', 'cosine', 'rank'],
  description:
    'calibrator: P(relevant) from the calibrator fitted for this model (POST /v1/calibration/fit); sigmoid: sigmoid(cross-encoder logit), ' +
    "the model's own reading of its logit; cosine: (cosine + 1) / 2; rank: a listwise stage's 1/(rank + 1), in (0, 1] but not a probability",
})

export const RerankRequest = Type.Object(
  {
    query: Type.String({ minLength: 1 }),
    documents: Type.Array(
      Type.Union([Type.String(), Type.Object({ id: Type.Optional(Type.String({ maxLength: 512 })), text: Type.String() }, { additionalProperties: false })]),
      { minItems: 1, description: 'texts, or { id, text } objects (at most FUNNEL_RERANK_MAX_DOCUMENTS)' },
    ),
    model: Type.Optional(Type.String({ minLength: 1, description: 'reranker model id (default: the first stage of FUNNEL_RERANK_STAGES)' })),
    top_n: Type.Optional(Type.Integer({ minimum: 1, description: 'return only the best n (default all)' })),
    return_documents: Type.Optional(Type.Boolean({ description: 'echo each text in `document` (default false)' })),
  },
  { additionalProperties: false, $id: 'RerankRequest' },
)

export const RerankResponse = Type.Object(
  {
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'position of the document in the request' }),
        id: Type.Optional(Type.String()),
        relevance_score: Type.Number({ minimum: 0, maximum: 1, description: 'relevance in 0..1, higher is more relevant; how it was read from raw_score is `relevance`' }),
        score: Type.Number({ minimum: 0, maximum: 1, description: 'same as relevance_score (the TEI / Infinity field name)' }),
        raw_score: Type.Number({ description: "the reranker's own score: cross-encoder logit, listwise 1/(rank+1)" }),
        document: Type.Optional(Type.Object({ text: Type.String() })),
      }),
    ),
    model: Type.String(),
    relevance: ref(RelevanceSource),
    truncated_documents: Type.Integer({ description: 'documents cut to fit the model context' }),
    timings: Type.Object({ rerank_ms: Type.Number(), total_ms: Type.Number() }),
  },
  { $id: 'RerankResponse' },
)

/** Cohere v1 / TEI / Infinity-shaped reranking for teams that bring their own retrieval. */
const rerank: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  app.post(
    '/v1/rerank',
    {
      schema: {
        operationId: 'rerank',
        tags: ['rerank'],
        summary: 'Rerank documents for a query (Cohere v1 / TEI / Infinity shape)',
        body: ref(RerankRequest),
        response: { 200: ref(RerankResponse), ...errorResponses(400, 413, 502, 503) },
      },
    },
    async (request) => {
      const started = performance.now()
      const { query, documents, top_n, return_documents } = request.body
      const model = request.body.model ?? app.rerankDefaults.stages[0]?.model
      if (model === undefined) throw errors.invalidRequest('model', `no default reranker is configured (FUNNEL_RERANK_STAGES); name one of: ${(await app.rerankers.ready()).join(', ') || 'none'}`)
      const outcome = await rerankDocuments(
        { rerankers: app.rerankers, calibrators: app.calibrators, maxDocuments: opts.config.rerankMaxDocuments },
        { query, documents: documents.map((d) => (typeof d === 'string' ? d : d.text)), model, ...(top_n !== undefined && { top_n }) },
      )
      return {
        results: outcome.results.map((r) => {
          const given = documents[r.index]!
          const id = typeof given === 'string' ? undefined : given.id
          return {
            index: r.index,
            ...(id !== undefined && { id }),
            relevance_score: r.relevance_score,
            score: r.relevance_score,
            raw_score: r.raw_score,
            ...(return_documents === true && { document: { text: r.text } }),
          }
        }),
        model,
        relevance: outcome.relevance,
        truncated_documents: outcome.truncated_documents,
        timings: { rerank_ms: outcome.rerank_ms, total_ms: elapsedMs(started) },
      }
    },
  )
}

export default rerank
