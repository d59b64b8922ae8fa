import { Type, type Static, type TSchema, type TSchemaOptions } from 'typebox'

// Building blocks every resource's schemas share. This folder is a leaf: TypeBox and the bottom-layer
// shapes only, never Fastify, routes, plugins or the pipeline, so any layer may import a type from it.

/**
 * A `$ref` to a named schema (one with `$id`), typed as the schema it names. Named schemas are added
 * to the app once (src/schemas/components.ts), so request validation, response serialisation and the
 * OpenAPI document's `components.schemas` all resolve the same name, and generated clients get one
 * type per shape instead of one per operation.
 *
 * @example
 *   export const FilterSchema = Type.Record(Type.String(), FilterValue, { $id: 'Filter' })
 *   const SearchRequestSchema = Type.Object({ filter: Type.Optional(ref(FilterSchema)) })
 */
export const ref = <T extends TSchema & { $id?: string }>(schema: T) => {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id))
}

/**
 * A closed set of strings as a JSON Schema `enum`. TypeBox unions of literals compile to `anyOf` of
 * `const`, whose validation error ("must be equal to constant") cannot list the allowed values.
 */
export const StringEnum = <const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })

/**
 * A closed set of strings as `anyOf` of `const`: how some fields were first published (the OpenAPI
 * document must not change); new fields use StringEnum.
 */
export const LiteralUnion = <const T extends readonly string[]>(values: T, options: TSchemaOptions = {}) =>
  Type.Unsafe<T[number]>(Type.Union(values.map((value) => Type.Literal(value)), options))

export const CollectionName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'collection name' })

export const Metadata = Type.Record(Type.String(), Type.Unknown(), {
  description: 'arbitrary JSON object stored with the document; search filters match its top-level fields exactly',
})
