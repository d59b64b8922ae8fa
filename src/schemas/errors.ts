import { Type, type Static, type TSchema } from 'typebox'

/** The body of every 4xx/5xx answer; src/errors.ts holds the catalogue of codes and messages. */
export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable machine-readable code, e.g. collection_not_found' }),
      message: Type.String({ description: 'what was wrong, naming the field and the allowed values' }),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every 4xx/5xx response has this shape' },
)
export type ErrorResponse = Static<typeof ErrorResponseSchema>

/** Statuses the production plugins may answer on any API route: missing/invalid key, read-only key, rate limit, load shedding or timeout. */
const ACCESS_STATUSES = [401, 403, 429, 503]

/** Error responses of an API route: its own statuses plus those auth, rate limiting and load shedding add. */
export const errorResponses = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries([...new Set([...statuses, ...ACCESS_STATUSES])].sort((a, b) => a - b).map((s) => [s, Type.Ref('ErrorResponse')]))

/** Error responses of an operations route that auth and shedding never touch. */
export const openRouteErrorResponses = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorResponse')]))
