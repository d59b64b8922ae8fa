import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { errors } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import { DenseIndex, type HnswSettings } from '../retrieval/hnsw-index.js'
import type { CollectionRow, IndexSettings, SqliteStore, StoredDocument } from '../store/sqlite-store.js'

export interface CreateCollectionInput {
  name: string
  model?: string
  index?: { dims?: number; m?: number; ef_construction?: number; ef_search?: number }
  settings?: Record<string, unknown>
}

export interface DocumentInput {
  id: string
  text: string
  metadata?: Record<string, unknown>
}

export interface CollectionInfo {
  name: string
  model: string
  dims: number
  index: { dims: number; m: number; ef_construction: number; ef_search: number }
  settings: Record<string, unknown>
  count: number
  size_on_disk_bytes: number
  created_at: string
}

/** Hooks that keep side indexes (lexical BM25, ...) in the same SQLite transaction as document writes. */
export interface WriteHook {
  onCreate?(collection: CollectionRow): void
  onUpsert?(collection: CollectionRow, docs: readonly DocumentInput[]): void
  onDelete?(collection: CollectionRow, ids: readonly string[]): void
  onDrop?(collection: CollectionRow): void
}

export const DEFAULT_INDEX: IndexSettings = { m: 16, ef_construction: 200, ef_search: 64 }
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

export interface CollectionServiceOptions {
  store: SqliteStore
  models: ModelRegistry
  dataDir: string
  indexSaveIntervalMs: number
  log: (obj: object, msg: string) => void
}

/** Which dimensions a model allows for truncation: its declared Matryoshka dims, else any 1..dims. */
export function checkDimensions(field: string, requested: number, dims: number, matryoshka: readonly number[]): void {
  if (requested > dims) throw errors.unsupportedDimensions(field, requested, `the model has ${dims} dimensions; use 1..${dims}`)
  if (matryoshka.length > 0 && !matryoshka.includes(requested)) {
    throw errors.unsupportedDimensions(field, requested, `the model supports ${matryoshka.join(', ')}`)
  }
}

/**
 * Collections and their documents: the durable store plus one HNSW index per collection, kept in
 * step. Knows nothing of HTTP. An acknowledged write is committed to SQLite before this returns; the
 * in-memory index is updated in the same tick and saved to disk in the background (and on close).
 */
export class CollectionService {
  private readonly indexes = new Map<string, DenseIndex>()
  private readonly saveTimers = new Map<string, NodeJS.Timeout>()
  private readonly hooks: WriteHook[] = []
  private readonly saving = new Map<string, Promise<void>>()

  constructor(private readonly options: CollectionServiceOptions) {}

  get store(): SqliteStore {
    return this.options.store
  }

  addWriteHook(hook: WriteHook): void {
    this.hooks.push(hook)
  }

  private indexBase(name: string): string {
    return path.join(this.options.dataDir, 'indexes', name)
  }

  private hnswSettings(row: CollectionRow): HnswSettings {
    return { dims: row.index_dims, m: row.index.m, efConstruction: row.index.ef_construction, efSearch: row.index.ef_search }
  }

  /** Loads every collection's index, replaying writes the saved file missed or rebuilding when it is unusable. */
  async open(): Promise<void> {
    for (const row of this.store.listCollections()) await this.openIndex(row)
  }

  private async openIndex(row: CollectionRow): Promise<DenseIndex> {
    const started = performance.now()
    const loaded = await DenseIndex.load(this.indexBase(row.name), this.hnswSettings(row))
    let index = loaded.index
    let replayed = 0
    if (index !== undefined && index.seq <= row.seq) {
      for (const label of this.store.tombstonesSince(row.name, index.seq)) index.remove(label)
      for (const doc of this.store.iterateDocuments(row.name, index.seq)) {
        index.upsert(doc.label, doc.vector)
        replayed++
      }
    } else {
      index = DenseIndex.create(this.hnswSettings(row), Math.max(1024, this.store.countDocuments(row.name)))
      for (const doc of this.store.iterateDocuments(row.name)) index.upsert(doc.label, doc.vector)
    }
    index.seq = row.seq
    this.indexes.set(row.name, index)
    const action = loaded.index !== undefined && loaded.index === index ? 'loaded' : 'rebuilt'
    this.options.log({ collection: row.name, action, reason: loaded.reason, replayed, size: index.size, ms: Math.round(performance.now() - started) }, 'index ready')
    if (index.isDirty) await this.saveIndex(row.name)
    return index
  }

  private index(name: string): DenseIndex {
    const index = this.indexes.get(name)
    if (index === undefined) throw errors.collectionNotFound(name)
    return index
  }

  async create(input: CreateCollectionInput): Promise<CollectionInfo> {
    if (!NAME_PATTERN.test(input.name)) {
      throw errors.invalidValue('name', input.name, 'use 1-64 letters, digits, "_" or "-", starting with a letter or digit')
    }
    if (this.store.getCollection(input.name) !== undefined) throw errors.collectionExists(input.name)
    const modelId = input.model ?? this.options.models.defaultModelId
    const model = await this.options.models.embedder(modelId)
    const indexDims = input.index?.dims ?? model.dims
    checkDimensions('index.dims', indexDims, model.dims, model.matryoshkaDims)
    const index: IndexSettings = {
      m: input.index?.m ?? DEFAULT_INDEX.m,
      ef_construction: input.index?.ef_construction ?? DEFAULT_INDEX.ef_construction,
      ef_search: input.index?.ef_search ?? DEFAULT_INDEX.ef_search,
    }
    const row = this.store.transaction(() => {
      const created = this.store.createCollection({ name: input.name, model: modelId, dims: model.dims, index_dims: indexDims, index, settings: input.settings ?? {} })
      for (const hook of this.hooks) hook.onCreate?.(created)
      return created
    })
    await DenseIndex.removeFiles(this.indexBase(row.name))
    this.indexes.set(row.name, DenseIndex.create(this.hnswSettings(row)))
    return this.describe(row.name)
  }

  list(): Promise<CollectionInfo[]> {
    return Promise.all(this.store.listCollections().map((row) => this.describe(row.name)))
  }

  async describe(name: string): Promise<CollectionInfo> {
    const row = this.store.requireCollection(name)
    const stored = this.store.db
      .prepare(
        `SELECT coalesce(sum(length(v.vector) + length(d.text) + coalesce(length(d.metadata), 0)), 0) AS bytes
         FROM documents d JOIN vectors v ON v.label = d.label WHERE d.collection = ?`,
      )
      .get(name) as { bytes: number }
    const indexBytes = (await stat(`${this.indexBase(name)}.hnsw`).catch(() => undefined))?.size ?? 0
    return {
      name: row.name,
      model: row.model,
      dims: row.dims,
      index: { dims: row.index_dims, ...row.index },
      settings: row.settings,
      count: this.store.countDocuments(name),
      size_on_disk_bytes: stored.bytes + indexBytes,
      created_at: row.created_at,
    }
  }

  async drop(name: string): Promise<void> {
    const row = this.store.requireCollection(name)
    this.store.transaction(() => {
      for (const hook of this.hooks) hook.onDrop?.(row)
      this.store.deleteCollection(name)
    })
    this.indexes.delete(name)
    clearTimeout(this.saveTimers.get(name))
    this.saveTimers.delete(name)
    await this.saving.get(name)
    await DenseIndex.removeFiles(this.indexBase(name))
  }

  /** Embeds and upserts a batch; resolves once the batch is committed (durable) and searchable. */
  async upsert(name: string, docs: readonly DocumentInput[]): Promise<{ upserted: number; truncated: string[]; embed_ms: number }> {
    const row = this.store.requireCollection(name)
    const model = await this.options.models.embedder(row.model)
    const started = performance.now()
    const embedded = await model.embed(docs.map((d) => d.text), 'document')
    const embedMs = performance.now() - started
    // Everything below is synchronous: no other request can interleave between commit and index update.
    const current = this.store.requireCollection(name)
    const { seq, labels } = this.store.transaction(() => {
      const result = this.store.upsertDocuments(name, docs.map((d, i) => ({ id: d.id, text: d.text, metadata: d.metadata, vector: embedded.vectors[i]! })))
      for (const hook of this.hooks) hook.onUpsert?.(current, docs)
      return result
    })
    const index = this.index(name)
    labels.forEach((label, i) => index.upsert(label, embedded.vectors[i]!))
    index.seq = seq
    this.scheduleSave(name)
    return { upserted: docs.length, truncated: docs.filter((_, i) => embedded.truncated[i]).map((d) => d.id), embed_ms: Math.round(embedMs * 100) / 100 }
  }

  getDocument(name: string, id: string): StoredDocument {
    this.store.requireCollection(name)
    const doc = this.store.getDocument(name, id)
    if (doc === undefined) throw errors.documentNotFound(name, id)
    return doc
  }

  deleteDocument(name: string, id: string): void {
    const row = this.store.requireCollection(name)
    const { seq, labels } = this.store.transaction(() => {
      const result = this.store.deleteDocuments(name, [id])
      if (result.labels.length > 0) for (const hook of this.hooks) hook.onDelete?.(row, [id])
      return result
    })
    if (labels.length === 0) throw errors.documentNotFound(name, id)
    const index = this.index(name)
    for (const label of labels) index.remove(label)
    index.seq = seq
    this.scheduleSave(name)
  }

  /** The dense index of a collection, for retrieval. */
  denseIndex(name: string): DenseIndex {
    this.store.requireCollection(name)
    return this.index(name)
  }

  private scheduleSave(name: string): void {
    if (this.saveTimers.has(name)) return
    const timer = setTimeout(() => {
      this.saveTimers.delete(name)
      this.saveIndex(name).catch((error: unknown) => this.options.log({ collection: name, err: error }, 'index save failed'))
    }, this.options.indexSaveIntervalMs)
    timer.unref()
    this.saveTimers.set(name, timer)
  }

  /** Saves one index if it changed, then drops tombstones the saved file no longer needs. Saves of one
   * collection are chained so two never write the same temp file at once. */
  saveIndex(name: string): Promise<void> {
    const previous = this.saving.get(name) ?? Promise.resolve()
    const next = previous.then(async () => {
      const index = this.indexes.get(name)
      if (index === undefined || !index.isDirty) return
      const seq = index.seq
      await index.save(this.indexBase(name))
      if (this.indexes.get(name) === index) this.store.pruneTombstones(name, seq)
    })
    const settled = next.catch(() => undefined)
    this.saving.set(name, settled)
    void settled.then(() => {
      if (this.saving.get(name) === settled) this.saving.delete(name)
    })
    return next
  }

  async close(): Promise<void> {
    for (const timer of this.saveTimers.values()) clearTimeout(timer)
    this.saveTimers.clear()
    for (const name of this.indexes.keys()) await this.saveIndex(name)
    this.indexes.clear()
  }

  /** Removes index files of collections that no longer exist (left by a crash mid-drop). */
  async removeOrphanIndexFiles(): Promise<void> {
    const known = new Set(this.store.listCollections().map((c) => c.name))
    const dir = path.join(this.options.dataDir, 'indexes')
    const files = await readdir(dir).catch(() => [] as string[])
    for (const file of files) {
      const base = file.replace(/\.(hnsw|meta\.json)(\.tmp)?$/, '')
      if (!known.has(base)) await rm(path.join(dir, file), { force: true })
    }
  }
}
