import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.js'
import { openRouteErrorResponses } from '../schemas/errors.js'
import { HealthResponseSchema, ReadyResponseSchema } from '../schemas/health.js'

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'health',
        tags: ['health'],
        security: [],
        summary: 'Liveness: the process is up',
        response: { 200: HealthResponseSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'ready',
        tags: ['health'],
        security: [],
        summary: 'Readiness: the default model is loaded and storage is open',
        response: { 200: ReadyResponseSchema, ...openRouteErrorResponses(503) },
      },
    },
    async () => {
      const storage = app.backend.notReady()
      if (storage !== undefined) throw errors.notReady(storage)
      const shedding = app.sheddingNotReadyReason()
      if (shedding !== undefined) throw errors.notReady(shedding)
      const pending = app.modelsNotReady()
      if (pending !== undefined) throw errors.notReady(pending)
      const opening = app.collections.notReady()
      if (opening !== undefined) throw errors.notReady(opening)
      const rerankers = app.rerankers.notReady()
      if (rerankers !== undefined) throw errors.notReady(rerankers)
      const degraded = app.backend.degraded?.()
      return { status: 'ready' as const, models: app.models.loadedModels(), ...(degraded !== undefined && { degraded }) }
    },
  )
}

export default health
