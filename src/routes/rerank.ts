import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { elapsedMs, type Candidate } from '../pipeline/candidate.js'
import { errorResponses } from './schemas.js'

const RerankBody = Type.Object(
  {
    query: Type.String({ minLength: 1 }),
    documents: Type.Array(
      Type.Union([Type.String(), Type.Object({ id: Type.Optional(Type.String({ maxLength: 512 })), text: Type.String() }, { additionalProperties: false })]),
      { minItems: 1, description: 'texts, or { id, text } objects (at most FUNNEL_RERANK_MAX_DOCUMENTS)' },
    ),
    model: Type.Optional(Type.String({ minLength: 1, description: 'reranker model id (default: the first stage of FUNNEL_RERANK_STAGES)' })),
    top_n: Type.Optional(Type.Integer({ minimum: 1, description: 'return only the best n (default all)' })),
    return_documents: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
)

const RerankResponse = Type.Object({
  results: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'position of the document in the request' }),
      id: Type.Optional(Type.String()),
      score: Type.Number({ description: 'cross-encoder logit (listwise: 1/(rank+1)); higher is more relevant' }),
      relevance_score: Type.Number({ description: 'same as score (Cohere field name)' }),
      document: Type.Optional(Type.Object({ text: Type.String() })),
    }),
  ),
  model: Type.String(),
  truncated_documents: Type.Integer({ description: 'documents cut to fit the model context' }),
  timings: Type.Object({ rerank_ms: Type.Number(), total_ms: Type.Number() }),
})

/** Cohere/TEI-shaped reranking for teams that bring their own retrieval. */
const rerank: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  app.post(
    '/v1/rerank',
    {
      schema: {
        tags: ['rerank'],
        summary: 'Rerank documents for a query (Cohere / TEI / Infinity shape)',
        body: RerankBody,
        response: { 200: RerankResponse, ...errorResponses(400, 413, 502, 503) },
      },
    },
    async (request) => {
      const started = performance.now()
      const { query, documents, top_n, return_documents } = request.body
      if (documents.length > opts.config.rerankMaxDocuments) throw errors.batchTooLarge('documents', documents.length, opts.config.rerankMaxDocuments)
      if (query.trim() === '') throw errors.invalidValue('query', query, 'query must contain a non-whitespace character')
      const model = request.body.model ?? app.rerankDefaults.stages[0]?.model
      if (model === undefined) throw errors.invalidRequest('model', `no default reranker is configured (FUNNEL_RERANK_STAGES); name one of: ${app.rerankers.known().join(', ') || 'none'}`)
      if (top_n !== undefined && top_n > documents.length) {
        throw errors.invalidValue('top_n', top_n, `use 1..${documents.length} (the number of documents)`)
      }
      const candidates: Candidate[] = documents.map((d, index) => {
        const text = typeof d === 'string' ? d : d.text
        return { id: String(index), text, score: 0, scores: {}, metadata: { id: typeof d === 'string' ? undefined : d.id } }
      })
      const reranker = await app.rerankers.get(model)
      const rankStart = performance.now()
      const outcome = await reranker.rank(query, candidates, { ...(top_n !== undefined && { topN: top_n }) })
      const rerankMs = elapsedMs(rankStart)
      return {
        results: outcome.candidates.map((c) => {
          const index = Number(c.id)
          const id = c.metadata?.id as string | undefined
          return {
            index,
            ...(id !== undefined && { id }),
            score: c.score,
            relevance_score: c.score,
            ...(return_documents === true && { document: { text: c.text } }),
          }
        }),
        model,
        truncated_documents: outcome.truncatedPassages,
        timings: { rerank_ms: rerankMs, total_ms: elapsedMs(started) },
      }
    },
  )
}

export default rerank
