import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { errors } from '../../errors.js'
import { blobToVector, vectorToBlob } from '../../retrieval/vector-math.js'
import type { CollectionRecord, Filter, IndexSettings } from '../backend.js'

export interface CollectionRow extends CollectionRecord {
  /** Write sequence number: bumped by every committed batch, so an index can tell how stale it is. */
  seq: number
}

export interface DocumentRecord {
  label: number
  id: string
  text: string
  metadata: Record<string, unknown> | null
}

export interface StoredRecord extends DocumentRecord {
  vector: Float32Array
}

export interface RecordWrite {
  id: string
  text: string
  metadata: Record<string, unknown> | null
  vector: Float32Array
}

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
  seq INTEGER NOT NULL,
  UNIQUE (collection, id)
);
-- Vectors apart from text, so rescoring a shortlist reads a few small rows and never touches text pages.
CREATE TABLE IF NOT EXISTS vectors (
  label INTEGER PRIMARY KEY REFERENCES documents(label) ON DELETE CASCADE,
  vector BLOB NOT NULL
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

interface RawRecord {
  label: number
  id: string
  text: string
  metadata: string | null
}

interface RawDocument extends RawRecord {
  vector: Buffer
}

const DOCUMENT_COLUMNS = 'd.label AS label, d.id AS id, d.text AS text, d.metadata AS metadata, v.vector AS vector'
const DOCUMENT_JOIN = 'documents d JOIN vectors v ON v.label = d.label'

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

const toRecord = (row: RawRecord): DocumentRecord => ({
  label: row.label,
  id: row.id,
  text: row.text,
  metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
})

const toDocument = (row: RawDocument): StoredRecord => ({ ...toRecord(row), vector: blobToVector(row.vector) })

/**
 * The durable store: collections, documents and their full-dimension vectors in one SQLite file.
 * WAL with synchronous=NORMAL: a commit survives a kill -9 (the page cache outlives the process), and
 * the owner makes it survive power loss by fsyncing the WAL off the event loop before acknowledging
 * it (WalSync; FULL fsynced inside each COMMIT, on the event loop). Every write bumps
 * the collection's `seq`; rows and tombstones carry it, so an index saved at seq N can be brought up to
 * date by replaying what came after N instead of rebuilding.
 */
export class SqliteStore {
  readonly db: Database.Database
  /** Read statements prepared once: a search runs several, and preparing them each time showed in profiles. */
  private readonly statements = new Map<string, Database.Statement>()

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true })
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(SCHEMA)
  }

  /** The prepared statement for `sql`, prepared on first use. Only for SQL built from constants. */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql)
    if (statement === undefined) {
      statement = this.db.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement
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
    const row = this.statement('SELECT * FROM collections WHERE name = ?').get(name) as RawCollection | undefined
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
      this.db.prepare('DELETE FROM vectors WHERE label IN (SELECT label FROM documents WHERE collection = ?)').run(name)
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
   * Each call bumps the collection's write sequence unless given the `seq` of its transaction.
   * Returns the label each document has in the vector index (stable across updates of the same id).
   */
  upsertDocuments(collection: string, docs: readonly RecordWrite[], seq = this.bumpSeq(collection)): { seq: number; labels: number[] } {
    const statement = this.db.prepare(
      `INSERT INTO documents (collection, id, text, metadata, seq) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(collection, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata, seq = excluded.seq
       RETURNING label`,
    )
    const vector = this.db.prepare('INSERT INTO vectors (label, vector) VALUES (?, ?) ON CONFLICT(label) DO UPDATE SET vector = excluded.vector')
    const labels = docs.map((doc) => {
      const metadata = doc.metadata === null ? null : JSON.stringify(doc.metadata)
      const label = (statement.get(collection, doc.id, doc.text, metadata, seq) as { label: number }).label
      vector.run(label, vectorToBlob(doc.vector))
      return label
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

  getDocument(collection: string, id: string): StoredRecord | undefined {
    const row = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM ${DOCUMENT_JOIN} WHERE d.collection = ? AND d.id = ?`)
      .get(collection, id) as RawDocument | undefined
    return row === undefined ? undefined : toDocument(row)
  }

  /** Documents (without vectors) for the given index labels, keyed by label; labels no longer stored are absent. */
  documentsByLabels(collection: string, labels: readonly number[]): Map<number, DocumentRecord> {
    // One statement for any number of labels: the list goes in as a JSON array and drives the join
    // (CROSS JOIN fixes the order), so each label is one primary-key lookup.
    const rows = this.statement('SELECT d.label, d.id, d.text, d.metadata FROM json_each(?) AS j CROSS JOIN documents AS d ON d.label = j.value WHERE d.collection = ?').all(JSON.stringify(labels), collection) as RawRecord[]
    return new Map(rows.map((row) => [row.label, toRecord(row)]))
  }

  /** Document ids of the given labels, without reading text; labels no longer stored are absent. */
  idsByLabels(collection: string, labels: readonly number[]): Map<number, string> {
    const rows = this.statement('SELECT d.label AS label, d.id AS id FROM json_each(?) AS j CROSS JOIN documents AS d ON d.label = j.value WHERE d.collection = ?').all(JSON.stringify(labels), collection) as { label: number; id: string }[]
    return new Map(rows.map((row) => [row.label, row.id]))
  }

  /** Stored bytes of a collection's documents and vectors. */
  storedBytes(collection: string): number {
    const row = this.statement(
      `SELECT coalesce(sum(length(v.vector) + length(d.text) + coalesce(length(d.metadata), 0)), 0) AS bytes
       FROM documents d JOIN vectors v ON v.label = d.label WHERE d.collection = ?`,
    ).get(collection) as { bytes: number }
    return row.bytes
  }

  /** Full-dimension vectors for the given labels (the rescoring stage reads only these). */
  vectorsByLabels(labels: readonly number[]): Map<number, Float32Array> {
    const rows = this.statement('SELECT label, vector FROM vectors WHERE label IN (SELECT value FROM json_each(?))').all(JSON.stringify(labels)) as { label: number; vector: Buffer }[]
    return new Map(rows.map((row) => [row.label, blobToVector(row.vector)]))
  }

  /** Full-dimension vectors for the given document ids, keyed by id. */
  vectorsByIds(collection: string, ids: readonly string[]): Map<string, Float32Array> {
    const rows = this.statement('SELECT d.id AS id, v.vector AS vector FROM documents d JOIN vectors v ON v.label = d.label WHERE d.collection = ? AND d.id IN (SELECT value FROM json_each(?))').all(collection, JSON.stringify(ids)) as { id: string; vector: Buffer }[]
    return new Map(rows.map((row) => [row.id, blobToVector(row.vector)]))
  }

  /** Text and metadata for the given document ids, keyed by id. */
  documentsByIds(collection: string, ids: readonly string[]): Map<string, DocumentRecord> {
    const rows = this.statement('SELECT label, id, text, metadata FROM documents WHERE collection = ? AND id IN (SELECT value FROM json_each(?))').all(collection, JSON.stringify(ids)) as RawRecord[]
    return new Map(rows.map((row) => [row.id, toRecord(row)]))
  }


  /** Every stored document of a collection, in label order (for index rebuilds and evaluation). */
  *iterateDocuments(collection: string, afterSeq = 0): IterableIterator<StoredRecord> {
    const rows = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM ${DOCUMENT_JOIN} WHERE d.collection = ? AND d.seq > ? ORDER BY d.label`)
      .iterate(collection, afterSeq) as IterableIterator<RawDocument>
    for (const row of rows) yield toDocument(row)
  }

  /** Every stored (label, full vector) of a collection, without text (to load in-memory rescoring vectors). */
  *iterateVectors(collection: string): IterableIterator<[number, Float32Array]> {
    const rows = this.db
      .prepare('SELECT v.label AS label, v.vector AS vector FROM documents d JOIN vectors v ON v.label = d.label WHERE d.collection = ?')
      .iterate(collection) as IterableIterator<{ label: number; vector: Buffer }>
    for (const row of rows) yield [row.label, blobToVector(row.vector)]
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
    if (Object.keys(filter).length === 0) {
      return new Set((this.db.prepare('SELECT label FROM documents WHERE collection = ?').all(collection) as { label: number }[]).map((r) => r.label))
    }
    const clauses: string[] = []
    const params: unknown[] = [collection]
    for (const [field, value] of Object.entries(filter)) {
      // Field names are validated at the API (no '"', '\\' or NUL), so quoting makes any other name a literal key.
      if (/["\\\u0000]/.test(field)) throw errors.invalidValue('filter', field, 'field names may not contain a double quote, backslash or NUL')
      // The OpenAPI document leaves values free-form (generators cannot express a union of scalars), so the type is checked here.
      if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw errors.invalidRequest(`filter.${field}`, `values must be a string, number, boolean or null; got ${Array.isArray(value) ? 'an array' : typeof value}`)
      }
      const pathExpr = `$."${field}"`
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

  /** Ids of documents whose metadata matches `filter` (see labelsMatching). */
  idsMatching(collection: string, filter: Filter): Set<string> {
    const labels = [...this.labelsMatching(collection, filter)]
    return new Set([...this.documentsByLabels(collection, labels).values()].map((d) => d.id))
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}
