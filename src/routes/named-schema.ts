import { Type, type Static, type TSchema } from 'typebox'

/**
 * A `$ref` to a named schema (one with `$id`), typed as the schema it names. Named schemas are added
 * to the app once (src/routes/components.ts), so request validation, response serialisation and the
 * OpenAPI document's `components.schemas` all resolve the same name, and generated clients get one
 * type per shape (`SearchRequest`) instead of one per operation.
 *
 * @example
 *   export const Filter = Type.Record(Type.String(), FilterValue, { $id: 'Filter' })
 *   const SearchBody = Type.Object({ filter: Type.Optional(ref(Filter)) })
 */
export const ref = <T extends TSchema & { $id?: string }>(schema: T) => {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id))
}
