import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors } from '../errors.js'
import { CollectionName, Metadata, errorResponses } from './schemas.js'

export const FilterSchema = Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), {
  description: 'metadata fields that must equal these values exactly (all must match)',
})

const SearchBody = Type.Object(
  {
    query: Type.String({ minLength: 1, description: 'the query text' }),
    top_k: Type.Integer({ minimum: 1, default: 10, description: 'number of results (1..FUNNEL_MAX_TOP_K, default max 1000)' }),
    dimensions: Type.Optional(Type.Integer({ minimum: 1, description: 'dims for exact rescoring (default: full model dims)' })),
    oversample: Type.Optional(Type.Integer({ minimum: 1, description: 'HNSW fetches top_k × oversample candidates at the index dims (default 4, max 100)' })),
    filter: Type.Optional(FilterSchema),
    include: Type.Optional(
      Type.Array(Type.Union([Type.Literal('text'), Type.Literal('metadata')]), { uniqueItems: true, description: 'fields to return with each hit (default both)' }),
    ),
  },
  { additionalProperties: false },
)

const SearchResponse = Type.Object({
  results: Type.Array(
    Type.Object({ id: Type.String(), score: Type.Number({ description: 'cosine similarity at the rescoring dims' }), text: Type.Optional(Type.String()), metadata: Type.Optional(Metadata) }),
  ),
  timings: Type.Object({ embed_ms: Type.Number(), retrieve_ms: Type.Number(), rescore_ms: Type.Number(), total_ms: Type.Number() }),
  query_truncated: Type.Boolean({ description: 'the query was cut to the model maximum length' }),
  strategy: Type.Union([Type.Literal('hnsw'), Type.Literal('exact')], { description: 'exact when a selective filter made brute force cheaper' }),
})

const search: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/collections/:name/search',
    {
      schema: {
        tags: ['search'],
        summary: 'Search a collection: HNSW at the index dims, exact rescoring at full dims',
        params: Type.Object({ name: CollectionName }),
        body: SearchBody,
        response: { 200: SearchResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      if (request.body.query.trim() === '') throw errors.invalidValue('query', request.body.query, 'query must contain a non-whitespace character')
      return app.searchPipeline.search(request.params.name, request.body)
    },
  )
}

export default search
