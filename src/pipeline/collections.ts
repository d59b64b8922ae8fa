import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { errors, isFunnelError } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import { DenseIndex, type HnswSettings } from '../retrieval/hnsw-index.js'
import { CollectionLifecycle, type LifecycleProbe } from './collection-lifecycle.js'
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
  /** Work that can run before the write's transaction, sliced so the event loop keeps turning (analysis). */
  prepareUpsert?(collection: CollectionRow, docs: readonly DocumentInput[]): Promise<void>
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
  /** Test hook: awaited at named points of the lifecycle (see LifecyclePoint). */
  probe?: LifecycleProbe
}

/** What the metrics read per collection. */
export interface IndexStats {
  name: string
  documents: number
  indexVectors: number
  deletedSlots: number
}

/**
 * Which dimensions a model allows for truncation: its full dims and declared Matryoshka dims, else any
 * 1..dims. One message for every refusal (too large or not in the list), naming what is allowed.
 */
export function checkDimensions(field: string, requested: number, dims: number, matryoshka: readonly number[]): void {
  if (matryoshka.length === 0) {
    if (requested > dims) throw errors.unsupportedDimensions(field, requested, `use 1..${dims} (the model has ${dims} dimensions)`)
    return
  }
  const supported = [...new Set([dims, ...matryoshka])].sort((a, b) => b - a)
  if (!supported.includes(requested)) throw errors.unsupportedDimensions(field, requested, `supported dimensions: ${supported.join(', ')}`)
}

/**
 * Collections and their documents: the durable store plus one HNSW index per collection, kept in
 * step. Knows nothing of HTTP. Every operation on a collection runs under its CollectionLifecycle
 * lock (reads and writes shared; create, drop and boot-time opening exclusive), so none acts on a
 * half-created, dropped or unopened collection. An acknowledged write is in SQLite, FTS and the
 * in-memory HNSW index before this returns; the index is saved to disk in the background (and on close).
 */
export class CollectionService {
  private readonly indexes = new Map<string, DenseIndex>()
  private readonly saveTimers = new Map<string, NodeJS.Timeout>()
  private readonly hooks: WriteHook[] = []
  private readonly saving = new Map<string, Promise<void>>()
  private probe: LifecycleProbe | undefined
  readonly lifecycle: CollectionLifecycle
  private opening: { total: number; opened: number; current?: string; failed: Map<string, string>; done: Promise<void> } | undefined

  constructor(private readonly options: CollectionServiceOptions) {
    this.probe = options.probe
    this.lifecycle = new CollectionLifecycle(() => this.probe)
  }

  /** Test hook: replaces the probe awaited at lifecycle points. */
  setProbe(probe: LifecycleProbe | undefined): void {
    this.probe = probe
  }

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

  /**
   * Opens every collection's dense and lexical indexes in the background and returns at once: boot
   * never waits on the size of the data or the speed of the machine. Each collection is held
   * exclusively until its indexes are open, so requests for it queue rather than fail; `notReady`
   * says what is still opening. Resolves `whenOpen` when all are done.
   */
  startOpening(openLexical: (row: CollectionRow) => void): void {
    const rows = this.store.listCollections()
    // Acquired in this tick, before any request can run: a grant on a free name is synchronous.
    const holds = rows.map((row) => this.lifecycle.acquire(row.name, 'exclusive'))
    const state = { total: rows.length, opened: 0, failed: new Map<string, string>(), done: Promise.resolve() } as NonNullable<typeof this.opening>
    this.opening = state
    state.done = (async () => {
      for (const [i, row] of rows.entries()) {
        const release = await holds[i]!
        state.current = row.name
        try {
          await this.probe?.('open:collection', row.name)
          await this.openIndex(row)
          openLexical(row)
        } catch (error) {
          state.failed.set(row.name, (error as Error).message)
          this.options.log({ collection: row.name, err: error }, 'collection failed to open')
        } finally {
          state.opened++
          state.current = undefined
          release()
        }
      }
      await this.removeOrphanIndexFiles().catch((error: unknown) => this.options.log({ err: error }, 'orphan index files not removed'))
    })()
  }

  /** Settles once boot-time opening has finished (successfully or not). */
  get whenOpen(): Promise<void> {
    return this.opening?.done ?? Promise.resolve()
  }

  /** Why the collections are not ready (still opening, or failed to open); undefined when they are. */
  notReady(): string | undefined {
    const state = this.opening
    if (state === undefined) return 'collections have not been opened'
    if (state.failed.size > 0) {
      return `collection indexes failed to open: ${[...state.failed].map(([name, why]) => `'${name}' (${why})`).join(', ')}`
    }
    if (state.opened < state.total) {
      return `opening collection indexes (${state.opened} of ${state.total} open${state.current === undefined ? '' : `, now '${state.current}'`})`
    }
    return undefined
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
      index = this.rebuildIndex(row)
    }
    // Replay covers writes newer than the saved file; a document that never reached the index (an
    // older version could commit one and then fail) is only caught by comparing the counts.
    const documents = this.store.countDocuments(row.name)
    let repaired = false
    if (index.size !== documents) {
      this.options.log({ collection: row.name, documents, indexVectors: index.size }, 'index disagrees with stored documents; rebuilding it from SQLite')
      index = this.rebuildIndex(row)
      repaired = true
    }
    index.seq = row.seq
    this.indexes.set(row.name, index)
    const action = repaired ? 'repaired' : loaded.index !== undefined && loaded.index === index ? 'loaded' : 'rebuilt'
    this.options.log({ collection: row.name, action, reason: loaded.reason, replayed, size: index.size, deletedSlots: index.deletedSlots, ms: Math.round(performance.now() - started) }, 'index ready')
    if (index.isDirty || repaired) await this.saveIndex(row.name, true)
    return index
  }

  private rebuildIndex(row: CollectionRow): DenseIndex {
    const index = DenseIndex.create(this.hnswSettings(row), Math.max(1024, this.store.countDocuments(row.name)))
    for (const doc of this.store.iterateDocuments(row.name)) index.upsert(doc.label, doc.vector)
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
    return this.lifecycle.run(input.name, 'exclusive', async () => {
      if (this.store.getCollection(input.name) !== undefined) throw errors.collectionExists(input.name)
      await DenseIndex.removeFiles(this.indexBase(input.name))
      await this.probe?.('create:commit', input.name)
      // Row, lexical tables and dense index appear in one tick: nothing can see one without the others.
      const row = this.store.transaction(() => {
        const created = this.store.createCollection({ name: input.name, model: modelId, dims: model.dims, index_dims: indexDims, index, settings: input.settings ?? {} })
        for (const hook of this.hooks) hook.onCreate?.(created)
        return created
      })
      this.indexes.set(row.name, DenseIndex.create(this.hnswSettings(row)))
      return this.describeRow(row)
    })
  }

  /** Every collection; one dropped while the list is read is left out. */
  async list(): Promise<CollectionInfo[]> {
    const describeIfPresent = (name: string) =>
      this.describe(name).catch((error: unknown) => {
        if (isFunnelError(error) && error.code === 'collection_not_found') return undefined
        throw error
      })
    const infos = await Promise.all(this.store.listCollections().map((row) => describeIfPresent(row.name)))
    return infos.filter((info): info is CollectionInfo => info !== undefined)
  }

  describe(name: string): Promise<CollectionInfo> {
    return this.lifecycle.run(name, 'shared', () => this.describeRow(this.store.requireCollection(name)))
  }

  private async describeRow(row: CollectionRow): Promise<CollectionInfo> {
    const name = row.name
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

  /** Documents, live index vectors and reusable deleted slots per open collection (for metrics). */
  indexStats(): IndexStats[] {
    return [...this.indexes].map(([name, index]) => ({ name, documents: this.store.countDocuments(name), indexVectors: index.size, deletedSlots: index.deletedSlots }))
  }

  drop(name: string): Promise<void> {
    return this.lifecycle.run(name, 'exclusive', async () => {
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
    })
  }

  /**
   * Runs `fn` with the collection's row while holding it shared: no create, drop or boot-time open of
   * this collection runs until `fn` settles, so the row, its lexical and its dense index stay valid.
   */
  withCollection<T>(name: string, fn: (row: CollectionRow) => Promise<T> | T): Promise<T> {
    return this.lifecycle.run(name, 'shared', () => fn(this.store.requireCollection(name)))
  }

  /**
   * Embeds and upserts a batch; resolves once the batch is in SQLite, FTS and the dense index. The
   * dense index is updated inside the SQLite transaction, so a failure there rolls the batch back.
   */
  upsert(name: string, docs: readonly DocumentInput[]): Promise<{ upserted: number; truncated: string[]; embed_ms: number }> {
    return this.withCollection(name, async (row) => {
      const model = await this.options.models.embedder(row.model)
      const started = performance.now()
      const embedded = await model.embed(docs.map((d) => d.text), 'document')
      const embedMs = performance.now() - started
      for (const hook of this.hooks) await hook.prepareUpsert?.(row, docs)
      const index = this.index(name)
      const seq = this.store.transaction(() => {
        const result = this.store.upsertDocuments(name, docs.map((d, i) => ({ id: d.id, text: d.text, metadata: d.metadata, vector: embedded.vectors[i]! })))
        for (const hook of this.hooks) hook.onUpsert?.(row, docs)
        result.labels.forEach((label, i) => index.upsert(label, embedded.vectors[i]!))
        return result.seq
      })
      index.seq = seq
      this.scheduleSave(name)
      return { upserted: docs.length, truncated: docs.filter((_, i) => embedded.truncated[i]).map((d) => d.id), embed_ms: Math.round(embedMs * 100) / 100 }
    })
  }

  getDocument(name: string, id: string): StoredDocument {
    this.store.requireCollection(name)
    const doc = this.store.getDocument(name, id)
    if (doc === undefined) throw errors.documentNotFound(name, id)
    return doc
  }

  /** Deletes one document from SQLite, FTS and the dense index (in that transaction's tick). */
  deleteDocument(name: string, id: string): Promise<void> {
    return this.withCollection(name, (row) => {
      const index = this.index(name)
      const { seq, labels } = this.store.transaction(() => {
        const result = this.store.deleteDocuments(name, [id])
        if (result.labels.length > 0) for (const hook of this.hooks) hook.onDelete?.(row, [id])
        return result
      })
      if (labels.length === 0) throw errors.documentNotFound(name, id)
      for (const label of labels) index.remove(label)
      index.seq = seq
      this.scheduleSave(name)
    })
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
  saveIndex(name: string, force = false): Promise<void> {
    const previous = this.saving.get(name) ?? Promise.resolve()
    const next = previous.then(async () => {
      const index = this.indexes.get(name)
      if (index === undefined || (!index.isDirty && !force)) return
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
    await this.whenOpen
    for (const timer of this.saveTimers.values()) clearTimeout(timer)
    this.saveTimers.clear()
    for (const name of this.indexes.keys()) await this.saveIndex(name)
    this.indexes.clear()
  }

  /** Removes index files of collections that no longer exist (left by a crash mid-drop). */
  async removeOrphanIndexFiles(): Promise<void> {
    const dir = path.join(this.options.dataDir, 'indexes')
    const files = await readdir(dir).catch(() => [] as string[])
    for (const file of files) {
      const base = file.replace(/\.(hnsw|meta\.json)(\.tmp)?$/, '')
      // Under the name's lock: a create of that name may be running right now.
      await this.lifecycle.run(base, 'exclusive', async () => {
        if (this.store.getCollection(base) === undefined) await rm(path.join(dir, file), { force: true })
      })
    }
  }
}
