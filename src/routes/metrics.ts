import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/errors.js'
import { MetricsResponseSchema } from '../schemas/metrics.js'

/** Prometheus exposition of `app.metrics` (auth applies unless FUNNEL_METRICS_PUBLIC=true). */
const metrics: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics: request latency by route, errors by code, collection sizes, process',
        response: { 200: MetricsResponseSchema, ...errorResponses(401) },
      },
    },
    async (_request, reply) => {
      const body = await app.metrics.registry.metrics()
      return reply.type(app.metrics.registry.contentType).send(body)
    },
  )
}

export default metrics
