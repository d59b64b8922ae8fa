import { Type, type Static } from 'typebox'

/** GET /healthz: the process is up. */
export const HealthResponseSchema = Type.Object({ status: Type.Literal('ok') })
export type HealthResponse = Static<typeof HealthResponseSchema>

/** GET /readyz: the default model is loaded and storage is open. */
export const ReadyResponseSchema = Type.Object({
  status: Type.Literal('ready'),
  models: Type.Array(Type.String()),
  degraded: Type.Optional(Type.String({ description: 'serving, with reduced redundancy (e.g. a Weaviate node down); absent when fully healthy' })),
})
export type ReadyResponse = Static<typeof ReadyResponseSchema>
