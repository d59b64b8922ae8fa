import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { CollectionParamsSchema } from '../schemas/collections.js'
import { ref } from '../schemas/common.js'
import { errorResponses } from '../schemas/errors.js'
import { SearchResponseSchema, searchRequestSchema } from '../schemas/search.js'

const search: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  app.post(
    '/v1/collections/:name/search',
    {
      schema: {
        operationId: 'search',
        tags: ['search'],
        summary: 'Search a collection: dense (HNSW funnel), lexical (BM25) or hybrid, with optional pseudo-relevance feedback',
        params: CollectionParamsSchema,
        body: searchRequestSchema(opts.config.maxQueryChars),
        response: { 200: ref(SearchResponseSchema), ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      if (request.body.query.trim() === '') throw errors.invalidValue('query', request.body.query, 'query must contain a non-whitespace character')
      const response = await app.searchPipeline.search(request.params.name, request.body, { ...(request.workSignal !== null && { signal: request.workSignal }) })
      for (const [stage, ms] of Object.entries(response.timings)) if (stage !== 'total_ms' && ms > 0) app.metrics.observeStage(stage.slice(0, -3), ms)
      return response
    },
  )
}

export default search
