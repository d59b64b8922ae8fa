import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { errors } from '../errors.js'
import { blobToVector, vectorToBlob } from '../retrieval/vector-math.js'

export interface IndexSettings {
  m: number
  ef_construction: number
  ef_search: number
}

export interface CollectionRow {
  name: string
  model: string
  dims: number
  index_dims: number
  index: IndexSettings
  /** Settings later stages add (lexical analysis, default mode); stored as JSON. */
  settings: Record<string, unknown>
  created_at: string
  /** Write sequence number: bumped by every committed batch, so an index can tell how stale it is. */
  seq: number
}

export interface StoredDocument {
  label: number
  id: string
  text: string
  metadata: Record<string, unknown> | null
  vector: Float32Array
}

export interface DocumentWrite {
  id: string
  text: string
  metadata: Record<string, unknown> | undefined
  vector: Float32Array
}

type Filter = Record<string, string | number | boolean | null>

const SCHEMA = `
CREATE TABLE IF NOT EXISTS collections (
  name TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  dims INTEGER NOT NULL,
  index_dims INTEGER NOT NULL,
  index_settings TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS documents (
  label INTEGER PRIMARY KEY AUTOINCREMENT,
  collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
  id TEXT NOT NULL,
  text TEXT NOT NULL,
  metadata TEXT,
  vector BLOB NOT NULL,
  seq INTEGER NOT NULL,
  UNIQUE (collection, id)
);
CREATE INDEX IF NOT EXISTS documents_by_seq ON documents (collection, seq);
CREATE TABLE IF NOT EXISTS tombstones (
  collection TEXT NOT NULL,
  label INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_by_seq ON tombstones (collection, seq);
`

interface RawCollection {
  name: string
  model: string
  dims: number
  index_dims: number
  index_settings: string
  settings: string
  created_at: string
  seq: number
}

interface RawDocument {
  label: number
  id: string
  text: string
  metadata: string | null
  vector: Buffer
}

const toCollection = (row: RawCollection): CollectionRow => ({
  name: row.name,
  model: row.model,
  dims: row.dims,
  index_dims: row.index_dims,
  index: JSON.parse(row.index_settings) as IndexSettings,
  settings: JSON.parse(row.settings) as Record<string, unknown>,
  created_at: row.created_at,
  seq: row.seq,
})

const toDocument = (row: RawDocument): StoredDocument => ({
  label: row.label,
  id: row.id,
  text: row.text,
  metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
  vector: blobToVector(row.vector),
})

/**
 * The durable store: collections, documents and their full-dimension vectors in one SQLite file.
 * WAL with synchronous=FULL, so a committed batch survives a kill -9 or power loss. Every write bumps
 * the collection's `seq`; rows and tombstones carry it, so an index saved at seq N can be brought up to
 * date by replaying what came after N instead of rebuilding.
 */
export class SqliteStore {
  readonly db: Database.Database

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true })
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(SCHEMA)
  }

  get isOpen(): boolean {
    return this.db.open
  }

  /** Runs `fn` in one transaction (IMMEDIATE, so concurrent writers queue rather than fail). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate()
  }

  createCollection(row: Omit<CollectionRow, 'seq' | 'created_at'>): CollectionRow {
    const created_at = new Date().toISOString()
    const result = this.db
      .prepare(
        `INSERT INTO collections (name, model, dims, index_dims, index_settings, settings, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING`,
      )
      .run(row.name, row.model, row.dims, row.index_dims, JSON.stringify(row.index), JSON.stringify(row.settings), created_at)
    if (result.changes === 0) throw errors.collectionExists(row.name)
    return { ...row, created_at, seq: 0 }
  }

  getCollection(name: string): CollectionRow | undefined {
    const row = this.db.prepare('SELECT * FROM collections WHERE name = ?').get(name) as RawCollection | undefined
    return row === undefined ? undefined : toCollection(row)
  }

  requireCollection(name: string): CollectionRow {
    const row = this.getCollection(name)
    if (row === undefined) throw errors.collectionNotFound(name)
    return row
  }

  listCollections(): CollectionRow[] {
    return (this.db.prepare('SELECT * FROM collections ORDER BY name').all() as RawCollection[]).map(toCollection)
  }

  deleteCollection(name: string): boolean {
    return this.transaction(() => {
      this.db.prepare('DELETE FROM documents WHERE collection = ?').run(name)
      this.db.prepare('DELETE FROM tombstones WHERE collection = ?').run(name)
      return this.db.prepare('DELETE FROM collections WHERE name = ?').run(name).changes > 0
    })
  }

  countDocuments(collection: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM documents WHERE collection = ?').get(collection) as { n: number }).n
  }

  private bumpSeq(collection: string): number {
    const row = this.db.prepare('UPDATE collections SET seq = seq + 1 WHERE name = ? RETURNING seq').get(collection) as
      | { seq: number }
      | undefined
    if (row === undefined) throw errors.collectionNotFound(collection)
    return row.seq
  }

  /**
   * Inserts or replaces documents; call inside `transaction` together with any other index writes.
   * Returns the label each document has in the vector index (stable across updates of the same id).
   */
  upsertDocuments(collection: string, docs: readonly DocumentWrite[]): { seq: number; labels: number[] } {
    const seq = this.bumpSeq(collection)
    const statement = this.db.prepare(
      `INSERT INTO documents (collection, id, text, metadata, vector, seq) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(collection, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata,
         vector = excluded.vector, seq = excluded.seq
       RETURNING label`,
    )
    const labels = docs.map((doc) => {
      const metadata = doc.metadata === undefined ? null : JSON.stringify(doc.metadata)
      return (statement.get(collection, doc.id, doc.text, metadata, vectorToBlob(doc.vector), seq) as { label: number }).label
    })
    return { seq, labels }
  }

  /** Deletes documents by id; returns the index labels removed (absent ids are skipped). */
  deleteDocuments(collection: string, ids: readonly string[]): { seq: number; labels: number[] } {
    const seq = this.bumpSeq(collection)
    const remove = this.db.prepare('DELETE FROM documents WHERE collection = ? AND id = ? RETURNING label')
    const tombstone = this.db.prepare('INSERT INTO tombstones (collection, label, seq) VALUES (?, ?, ?)')
    const labels: number[] = []
    for (const id of ids) {
      const row = remove.get(collection, id) as { label: number } | undefined
      if (row === undefined) continue
      tombstone.run(collection, row.label, seq)
      labels.push(row.label)
    }
    return { seq, labels }
  }

  getDocument(collection: string, id: string): StoredDocument | undefined {
    const row = this.db
      .prepare('SELECT label, id, text, metadata, vector FROM documents WHERE collection = ? AND id = ?')
      .get(collection, id) as RawDocument | undefined
    return row === undefined ? undefined : toDocument(row)
  }

  /** Documents for the given index labels, keyed by label (labels no longer stored are absent). */
  documentsByLabels(collection: string, labels: readonly number[]): Map<number, StoredDocument> {
    const out = new Map<number, StoredDocument>()
    const chunk = 500
    for (let i = 0; i < labels.length; i += chunk) {
      const part = labels.slice(i, i + chunk)
      const rows = this.db
        .prepare(
          `SELECT label, id, text, metadata, vector FROM documents
           WHERE collection = ? AND label IN (${part.map(() => '?').join(',')})`,
        )
        .all(collection, ...part) as RawDocument[]
      for (const row of rows) out.set(row.label, toDocument(row))
    }
    return out
  }

  /** Every stored document of a collection, in label order (for index rebuilds and evaluation). */
  *iterateDocuments(collection: string, afterSeq = 0): IterableIterator<StoredDocument> {
    const rows = this.db
      .prepare(
        'SELECT label, id, text, metadata, vector FROM documents WHERE collection = ? AND seq > ? ORDER BY label',
      )
      .iterate(collection, afterSeq) as IterableIterator<RawDocument>
    for (const row of rows) yield toDocument(row)
  }

  tombstonesSince(collection: string, afterSeq: number): number[] {
    return (
      this.db.prepare('SELECT label FROM tombstones WHERE collection = ? AND seq > ?').all(collection, afterSeq) as {
        label: number
      }[]
    ).map((r) => r.label)
  }

  /** Tombstones at or below `seq` are no longer needed once an index saved at `seq` is on disk. */
  pruneTombstones(collection: string, uptoSeq: number): void {
    this.db.prepare('DELETE FROM tombstones WHERE collection = ? AND seq <= ?').run(collection, uptoSeq)
  }

  /** Labels of documents whose metadata equals every field of `filter` (exact JSON match). */
  labelsMatching(collection: string, filter: Filter): Set<number> {
    const clauses: string[] = []
    const params: unknown[] = [collection]
    for (const [field, value] of Object.entries(filter)) {
      const pathExpr = `$."${field.replaceAll('"', '""')}"`
      if (value === null) {
        clauses.push(`json_type(metadata, ?) = 'null'`)
        params.push(pathExpr)
      } else if (typeof value === 'boolean') {
        clauses.push(`json_type(metadata, ?) = ?`)
        params.push(pathExpr, value ? 'true' : 'false')
      } else {
        clauses.push(`json_type(metadata, ?) = ? AND json_extract(metadata, ?) = ?`)
        params.push(pathExpr, typeof value === 'string' ? 'text' : Number.isInteger(value) ? 'integer' : 'real', pathExpr, value)
      }
    }
    const sql = `SELECT label FROM documents WHERE collection = ? AND metadata IS NOT NULL AND ${clauses.join(' AND ')}`
    return new Set((this.db.prepare(sql).all(...params) as { label: number }[]).map((r) => r.label))
  }

  updateSettings(name: string, settings: Record<string, unknown>): void {
    this.db.prepare('UPDATE collections SET settings = ? WHERE name = ?').run(JSON.stringify(settings), name)
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}
