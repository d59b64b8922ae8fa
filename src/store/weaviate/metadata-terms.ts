import type { Collection, FilterValue } from 'weaviate-client'
import { errors } from '../../errors.js'
import type { Filter } from '../backend.js'

/**
 * How metadata filters run server-side in Weaviate.
 *
 * Funnel's metadata is free-form JSON and its filters are equality on top-level keys, with the value's
 * JSON type part of the match (`{"year": 2020}` does not match `{"year": "2020"}`; null matches an
 * explicit null). A Weaviate class has one fixed type per property, so mapping keys to properties
 * would fail the first time two documents disagree on a key's type, and would grow the schema with
 * every new key. Instead each document stores one `text[]` property, `meta_terms`, with `field`
 * tokenization (the whole string is one filterable token, case kept): one term per top-level scalar
 * entry, `JSON.stringify([key, value])`. A filter is then `meta_terms` containsAll of the filter's
 * terms, encoded the same way: any key, any scalar type, one roaring-bitmap lookup per field.
 *
 * Arrays and objects are not filterable (nor are they in the embedded backend, which compares JSON
 * scalars): they get no term. The full metadata round-trips separately as JSON (`metadata_json`).
 *
 * @example
 *   metadataTerms({ year: 2020, tags: ['a'], lang: 'en', draft: null })
 *   // -> ['["year",2020]', '["lang","en"]', '["draft",null]']
 */
export function metadataTerms(metadata: Record<string, unknown> | null): string[] {
  if (metadata === null) return []
  const terms: string[] = []
  for (const [key, value] of Object.entries(metadata)) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      terms.push(JSON.stringify([key, value]))
    }
  }
  return terms
}

/** The Weaviate filter for a Funnel metadata filter; undefined for no filter (or an empty one, which matches everything). */
export function metadataFilter(collection: Collection, filter: Filter | undefined): FilterValue | undefined {
  if (filter === undefined) return undefined
  const terms: string[] = []
  for (const [field, value] of Object.entries(filter)) {
    if (/["\\\u0000]/.test(field)) throw errors.invalidValue('filter', field, 'field names may not contain a double quote, backslash or NUL')
    if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw errors.invalidRequest(`filter.${field}`, `values must be a string, number, boolean or null; got ${Array.isArray(value) ? 'an array' : typeof value}`)
    }
    terms.push(JSON.stringify([field, value]))
  }
  if (terms.length === 0) return undefined
  return collection.filter.byProperty('meta_terms').containsAll(terms)
}
