import { createHash } from 'node:crypto'
import { Value } from 'typebox/value'
import { Bm25Index } from '../retrieval/bm25-index.js'
import { AnalysisSettingsSchema, defaultAnalysisSettings, type AnalysisSettings } from '../retrieval/text-analysis.js'
import type { CollectionRow, SqliteStore } from '../store/sqlite-store.js'
import type { DocumentInput, WriteHook } from './collections.js'

/** FTS5 table names must be plain identifiers; collection names may hold '-' and capitals. */
const tableKey = (collection: string): string => `c_${createHash('sha256').update(collection).digest('hex').slice(0, 24)}`

/** The analysis settings a collection was created with (stored in its settings JSON). */
export function lexicalSettings(row: CollectionRow): AnalysisSettings {
  const stored = row.settings.lexical
  return stored === undefined ? { ...defaultAnalysisSettings } : (Value.Default(AnalysisSettingsSchema, structuredClone(stored)) as AnalysisSettings)
}

/**
 * One BM25 index per collection, kept in step with the documents by running inside the same SQLite
 * transaction as every document write (it is a WriteHook), so lexical and dense never disagree.
 */
export class LexicalIndexes implements WriteHook {
  private readonly indexes = new Map<string, Bm25Index>()

  constructor(
    private readonly store: SqliteStore,
    private readonly log: (obj: object, msg: string) => void,
  ) {}

  forCollection(row: CollectionRow): Bm25Index {
    let index = this.indexes.get(row.name)
    if (index === undefined) {
      index = new Bm25Index(this.store.db, tableKey(row.name), lexicalSettings(row))
      this.indexes.set(row.name, index)
    }
    return index
  }

  /** Opens every collection's BM25 index and backfills it if it lags the documents (e.g. created before it existed). */
  open(): void {
    for (const row of this.store.listCollections()) {
      const index = this.forCollection(row)
      const expected = this.store.countDocuments(row.name)
      if (index.count() === expected) continue
      const started = performance.now()
      this.store.transaction(() => {
        index.drop()
        this.indexes.delete(row.name)
        const fresh = this.forCollection(row)
        const batch: DocumentInput[] = []
        for (const doc of this.store.iterateDocuments(row.name)) {
          batch.push({ id: doc.id, text: doc.text })
          if (batch.length >= 500) fresh.upsert(batch.splice(0))
        }
        fresh.upsert(batch)
      })
      this.log({ collection: row.name, documents: expected, ms: Math.round(performance.now() - started) }, 'lexical index rebuilt')
    }
  }

  onCreate(row: CollectionRow): void {
    this.forCollection(row)
  }

  onUpsert(row: CollectionRow, docs: readonly DocumentInput[]): void {
    this.forCollection(row).upsert(docs.map((d) => ({ id: d.id, text: d.text })))
  }

  onDelete(row: CollectionRow, ids: readonly string[]): void {
    this.forCollection(row).delete(ids)
  }

  onDrop(row: CollectionRow): void {
    this.forCollection(row).drop()
    this.indexes.delete(row.name)
  }
}
