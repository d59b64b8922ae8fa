import { Type, type Static, type TSchema } from 'typebox'

/** Schemas shared by several routes. Each route file declares its own request/response shapes. */

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable machine-readable code, e.g. collection_not_found' }),
      message: Type.String({ description: 'what was wrong, naming the field and the allowed values' }),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every 4xx/5xx response has this shape' },
)

/** Statuses the production plugins may answer on any API route: missing/invalid key, read-only key, rate limit, load shedding or timeout. */
const ACCESS_STATUSES = [401, 403, 429, 503]

/** Error responses of an API route: its own statuses plus those auth, rate limiting and load shedding add. */
export const errorResponses = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries([...new Set([...statuses, ...ACCESS_STATUSES])].sort((a, b) => a - b).map((s) => [s, Type.Ref('ErrorResponse')]))

/** Error responses of an operations route that auth and shedding never touch. */
export const openRouteErrorResponses = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorResponse')]))

export const CollectionName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'collection name' })

export const Metadata = Type.Record(Type.String(), Type.Unknown(), {
  description: 'arbitrary JSON object stored with the document; search filters match its top-level fields exactly',
})

export const IndexSettingsSchema = Type.Object(
  {
    dims: Type.Integer({ minimum: 1, description: 'dimensions kept in the HNSW index (Matryoshka truncation); default: model dims' }),
    m: Type.Integer({ minimum: 2, maximum: 128, description: 'HNSW links per node (default 16)' }),
    ef_construction: Type.Integer({ minimum: 8, maximum: 4096, description: 'HNSW build beam width (default 200)' }),
    ef_search: Type.Integer({ minimum: 1, maximum: 4096, description: 'HNSW search beam width (default 64)' }),
  },
  { additionalProperties: false },
)

export const CollectionInfoSchema = Type.Object({
  name: Type.String(),
  model: Type.String({ description: 'embedding model id' }),
  dims: Type.Integer({ description: 'full embedding dimensions (stored and used for rescoring)' }),
  index: Type.Object({ dims: Type.Integer(), m: Type.Integer(), ef_construction: Type.Integer(), ef_search: Type.Integer() }),
  settings: Type.Record(Type.String(), Type.Unknown()),
  count: Type.Integer({ description: 'number of documents' }),
  size_on_disk_bytes: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
}, { $id: 'Collection' })

export const Timings = (fields: string[]) =>
  Type.Object(Object.fromEntries(fields.map((f) => [f, Type.Number({ description: 'milliseconds' })])))

export type CollectionInfoBody = Static<typeof CollectionInfoSchema>

/**
 * A closed set of strings as a JSON Schema `enum`. TypeBox unions of literals compile to `anyOf` of
 * `const`, whose validation error ("must be equal to constant") cannot list the allowed values.
 */
export const StringEnum = <const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
