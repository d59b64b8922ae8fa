import { generateUuid5 } from 'weaviate-client'

/**
 * Names Funnel gives things in Weaviate. Every name is a pure function of Funnel's own names, so any
 * replica finds the same collection and the same object without a lookup, and a retried write lands
 * on the object its first attempt wrote.
 */

/** Funnel's namespace for its v5 object UUIDs (weaviate-client's generateUuid5 appends it to the name). */
const UUID_NAMESPACE = '6f2b5c1e-3f0a-4c55-9d7e-0b8e6a4f2d11'

/**
 * The Weaviate class of a Funnel collection: `<prefix>_` + the name with every character that is not
 * a lowercase letter or digit escaped (`_0` for '_', `_1` for '-', `_a`..`_z` for 'A'..'Z'). Weaviate
 * capitalises the first letter of class names and compares them case-insensitively, while Funnel's
 * names (`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`) are case-sensitive: the escape keeps 'Books' and
 * 'books' apart, and the mapping is one to one.
 *
 * @example
 *   dataClassName('Funnel', 'my-Books') // 'Funnel_my_1_books'
 */
export function dataClassName(prefix: string, collection: string): string {
  let escaped = ''
  for (const ch of collection) {
    if (/[a-z0-9]/.test(ch)) escaped += ch
    else if (ch === '_') escaped += '_0'
    else if (ch === '-') escaped += '_1'
    else if (/[A-Z]/.test(ch)) escaped += `_${ch.toLowerCase()}`
    else escaped += `_2${ch.codePointAt(0)!.toString(36)}_`
  }
  return `${prefix}_${escaped}`
}

/** The class holding one record per collection (its spec and settings). */
export const catalogClassName = (prefix: string): string => `${prefix}Meta_Collections`

/** The class holding every version of every fitted calibrator. */
export const calibratorClassName = (prefix: string): string => `${prefix}Meta_Calibrators`

/** Object UUID of document `id` in `collection`. */
export const documentUuid = (collection: string, id: string): string => generateUuid5(JSON.stringify(['document', collection, id]), UUID_NAMESPACE)

/** Object UUID of a collection's record in the catalog. */
export const collectionRecordUuid = (collection: string): string => generateUuid5(JSON.stringify(['collection', collection]), UUID_NAMESPACE)

/** Object UUID of one calibrator version. */
export const calibratorUuid = (model: string, stage: string, version: number): string =>
  generateUuid5(JSON.stringify(['calibrator', model, stage, version]), UUID_NAMESPACE)
