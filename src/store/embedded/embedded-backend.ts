import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { elapsedMs } from '../../candidate.js'
import { errors } from '../../errors.js'
import { LoopSlicer, yieldToEventLoop } from '../../event-loop.js'
import { WriteSlice, chunkEnd } from './write-chunks.js'
import type { TermStatistics } from '../../retrieval/bm25-index.js'
import { rescoreAtFullDims, type ScoredLabel } from '../../retrieval/rescore.js'
import { RescoreVectors } from '../../retrieval/rescore-vectors.js'
import { DenseIndex, type HnswSettings } from '../../retrieval/hnsw-index.js'
import type { AnalysisSettings } from '../../retrieval/text-analysis.js'
import { RESCORE_VECTORS, defaultRescoreVectors, type RescoreVectors as RescoreVectorsSetting } from '../../schemas/collections.js'
import type {
  Backend,
  CollectionRecord,
  CollectionSpec,
  CollectionStats,
  DenseQuery,
  DenseResult,
  DocumentBody,
  DocumentWrite,
  LexicalQuery,
  Readiness,
  ScoredId,
  StoredDocument,
} from '../backend.js'
import { LexicalIndexes, lexicalSettings } from './lexical-indexes.js'
import { WalCheckpointer, type CheckpointResult } from './wal-checkpointer.js'
import { WalSync, type WalSyncOptions } from './wal-sync.js'
import { SqliteCalibratorRepository } from './sqlite-calibrators.js'
import { SqliteStore, type CollectionRow } from './sqlite-store.js'

export interface EmbeddedBackendOptions {
  /** Folder of `funnel.db` and `indexes/`. */
  dataDir: string
  /** How long after a write the changed HNSW index is saved to disk. */
  indexSaveIntervalMs: number
  log: (obj: object, msg: string) => void
  /** A write commits in transactions of at most this many milliseconds, so the event loop keeps turning. */
  writeSliceMs?: number
  /** How often the WAL checkpoint worker looks whether a checkpoint is due (default 500 ms). */
  checkpointIntervalMs?: number
  /** A WAL checkpoint waits for this long without writes (default 1,000 ms). */
  checkpointQuietMs?: number
  /** Awaited before each background step that applies queued BM25 document frequencies (tests hold it). */
  beforeDfStep?: (collection: string) => Promise<void>
  /** How an acknowledged write's WAL frames are flushed (default: fsync on the thread pool; tests hold it). */
  walFsync?: WalSyncOptions['fsync']
}

/** SQLite's default `wal_autocheckpoint` (pages), restored if the checkpoint worker dies. */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000

/** Below this many filter matches, scoring them all exactly beats asking HNSW to skip the rest. */
const EXACT_FILTER_LIMIT = 2048
/** Over-fetch for a filtered BM25 search (FTS5 has no metadata filter). */
const FILTERED_LEXICAL_MIN = 1000

/** Where a collection keeps its rescoring vectors; a collection created before the setting existed gets the default. */
export function rescoreVectorsSetting(row: Pick<CollectionRecord, 'settings' | 'index_dims' | 'dims'>): RescoreVectorsSetting {
  const stored = row.settings.rescore_vectors
  return RESCORE_VECTORS.find((value) => value === stored) ?? defaultRescoreVectors(row.index_dims, row.dims)
}

const record = (row: CollectionRow): CollectionRecord => ({
  name: row.name,
  model: row.model,
  dims: row.dims,
  index_dims: row.index_dims,
  index: row.index,
  settings: row.settings,
  created_at: row.created_at,
})

/**
 * The single-process backend: documents and full vectors in SQLite (WAL, synchronous=NORMAL, and the
 * WAL fsynced off the event loop before a write is acknowledged: see WalSync), one
 * hnswlib index per collection at the index dims in memory (saved in the background, replayed from
 * SQLite's write sequence on open), BM25 in FTS5 tables written in the same transactions, and unless
 * a collection says `rescore_vectors: 'disk'` a compact in-memory copy of its full vectors for
 * rescoring (loaded from SQLite on open). An acknowledged write is in SQLite, FTS, the in-memory index
 * and the rescoring vectors, and its WAL frames are on stable storage, before `upsert` resolves.
 *
 * @example
 *   const backend = new EmbeddedBackend({ dataDir: './data', indexSaveIntervalMs: 1000, log })
 *   for (const c of await backend.listCollections()) await backend.openCollection(c)
 */
export class EmbeddedBackend implements Backend {
  readonly kind = 'embedded'
  readonly store: SqliteStore
  readonly calibrators: SqliteCalibratorRepository
  private readonly lexical: LexicalIndexes
  private readonly indexes = new Map<string, DenseIndex>()
  /** In-memory rescoring vectors of each collection that keeps them (absent for `disk`). */
  private readonly rescoreVectors = new Map<string, RescoreVectors>()
  private readonly saveTimers = new Map<string, NodeJS.Timeout>()
  private readonly saving = new Map<string, Promise<void>>()
  private readonly writeSliceMs: number
  private checkpointer: Promise<WalCheckpointer | undefined> | undefined
  /** The started checkpointer, for noting writes synchronously. */
  private walCheckpointer: WalCheckpointer | undefined
  /** Flushes the WAL before a write is acknowledged (the store commits without fsync). */
  private readonly walSync: WalSync

  constructor(private readonly options: EmbeddedBackendOptions) {
    this.store = new SqliteStore(path.join(options.dataDir, 'funnel.db'))
    this.walSync = new WalSync(`${this.store.file}-wal`, { ...(options.walFsync !== undefined && { fsync: options.walFsync }) })
    this.calibrators = new SqliteCalibratorRepository(this.store.db, () => this.walSync.sync())
    this.lexical = new LexicalIndexes(this.store, options.log, options.beforeDfStep)
    this.writeSliceMs = options.writeSliceMs ?? 10
  }

  notReady(): Readiness {
    return this.store.isOpen ? undefined : 'storage is closed'
  }

  private indexBase(name: string): string {
    return path.join(this.options.dataDir, 'indexes', name)
  }

  private hnswSettings(row: CollectionSpec): HnswSettings {
    return { dims: row.index_dims, m: row.index.m, efConstruction: row.index.ef_construction, efSearch: row.index.ef_search }
  }

  private row(name: string): CollectionRow {
    return this.store.requireCollection(name)
  }

  private index(name: string): DenseIndex {
    const index = this.indexes.get(name)
    if (index === undefined) throw errors.collectionNotFound(name)
    return index
  }

  async openCollection(collection: CollectionRecord): Promise<void> {
    const row = this.row(collection.name)
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
    this.lexical.open(row)
    this.loadRescoreVectors(row, documents)
  }

  /** Reads a collection's full vectors from SQLite into its in-memory rescoring store. */
  private loadRescoreVectors(row: CollectionRow, documents: number): void {
    const encoding = rescoreVectorsSetting(row)
    if (encoding === 'disk') return
    const started = performance.now()
    const vectors = new RescoreVectors(encoding, row.dims, documents)
    for (const [label, vector] of this.store.iterateVectors(row.name)) vectors.set(label, vector)
    this.rescoreVectors.set(row.name, vectors)
    this.options.log({ collection: row.name, encoding, vectors: vectors.size, bytes: vectors.bytes, ms: Math.round(performance.now() - started) }, 'rescoring vectors loaded')
  }

  private async startCheckpointer(): Promise<WalCheckpointer | undefined> {
    try {
      const checkpointer = await WalCheckpointer.start(this.store.file, {
        ...(this.options.checkpointIntervalMs !== undefined && { intervalMs: this.options.checkpointIntervalMs }),
        ...(this.options.checkpointQuietMs !== undefined && { quietMs: this.options.checkpointQuietMs }),
        log: this.options.log,
        onFailure: (error) => {
          this.options.log({ err: error }, 'WAL checkpoint worker stopped; SQLite checkpoints on commit again')
          if (this.store.isOpen) this.store.db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT}`)
        },
      })
      this.store.db.pragma('wal_autocheckpoint = 0')
      this.walCheckpointer = checkpointer
      this.options.log({ file: this.store.file }, 'WAL checkpoints run on a worker thread, between write bursts')
      return checkpointer
    } catch (error) {
      this.options.log({ err: error }, 'WAL checkpoint worker did not start; SQLite checkpoints on commit')
      return undefined
    }
  }

  /** Runs a WAL checkpoint now on the worker (undefined before `afterOpen` or if it did not start). */
  async checkpoint(): Promise<CheckpointResult | undefined> {
    return (await this.checkpointer)?.checkpoint()
  }

  /**
   * A write transaction; the WAL checkpointer is told, so it checkpoints between write bursts. The
   * commit is not yet durable: await `walSync.sync()` before acknowledging it.
   */
  private write<T>(fn: () => T): T {
    const result = this.store.transaction(fn)
    this.walCheckpointer?.noteWrite()
    return result
  }

  /**
   * An upsert's transaction. If it fails, the HNSW points it already changed (`written`) are put back
   * as SQLite still has them (or removed), so no search sees a vector that was rolled back; a full
   * disk is reported with how many of the upsert's documents earlier transactions had written.
   */
  private writeOrRestore<T>(index: DenseIndex, written: readonly [number, Float32Array][], progress: { written: number; total: number }, fn: () => T): T {
    try {
      return this.write(fn)
    } catch (error) {
      const stored = this.store.vectorsByLabels(written.map(([label]) => label))
      for (const [label] of written) {
        const vector = stored.get(label)
        if (vector === undefined) index.remove(label)
        else index.upsert(label, vector)
      }
      if ((error as { code?: unknown }).code === 'SQLITE_FULL') throw errors.storageFull(progress)
      throw error
    }
  }

  private rebuildIndex(row: CollectionRow): DenseIndex {
    const index = DenseIndex.create(this.hnswSettings(row), Math.max(1024, this.store.countDocuments(row.name)))
    for (const doc of this.store.iterateDocuments(row.name)) index.upsert(doc.label, doc.vector)
    return index
  }

  /**
   * Starts checkpointing the WAL on a worker thread (then turns SQLite's automatic checkpoint off on
   * this connection), and removes index files of collections that no longer exist (left by a crash
   * mid-drop).
   */
  async afterOpen(): Promise<void> {
    this.checkpointer ??= this.startCheckpointer()
    await this.checkpointer
    const dir = path.join(this.options.dataDir, 'indexes')
    const files = await readdir(dir).catch(() => [] as string[])
    for (const file of files) {
      const base = file.replace(/\.(hnsw|meta\.json)(\.tmp)?$/, '')
      if (this.store.getCollection(base) === undefined && !this.indexes.has(base)) await rm(path.join(dir, file), { force: true })
    }
  }

  async createCollection(spec: CollectionSpec): Promise<CollectionRecord> {
    if (this.store.getCollection(spec.name) !== undefined) throw errors.collectionExists(spec.name)
    await DenseIndex.removeFiles(this.indexBase(spec.name))
    // Row, lexical tables and dense index appear in one tick: nothing can see one without the others.
    const row = this.write(() => {
      const created = this.store.createCollection(spec)
      this.lexical.onCreate(created)
      return created
    })
    this.indexes.set(row.name, DenseIndex.create(this.hnswSettings(row)))
    const encoding = rescoreVectorsSetting(row)
    if (encoding !== 'disk') this.rescoreVectors.set(row.name, new RescoreVectors(encoding, row.dims))
    await this.walSync.sync()
    return record(row)
  }

  async getCollection(name: string): Promise<CollectionRecord | undefined> {
    const row = this.store.getCollection(name)
    return row === undefined ? undefined : record(row)
  }

  async listCollections(): Promise<CollectionRecord[]> {
    return this.store.listCollections().map(record)
  }

  async dropCollection(name: string): Promise<boolean> {
    const row = this.store.getCollection(name)
    if (row === undefined) return false
    this.write(() => {
      this.lexical.onDrop(row)
      this.store.deleteCollection(name)
    })
    this.indexes.delete(name)
    this.rescoreVectors.delete(name)
    const durable = this.walSync.sync()
    clearTimeout(this.saveTimers.get(name))
    this.saveTimers.delete(name)
    await this.saving.get(name)
    await DenseIndex.removeFiles(this.indexBase(name))
    await durable
    return true
  }

  async collectionStats(name: string): Promise<CollectionStats> {
    this.row(name)
    const index = this.indexes.get(name)
    const indexBytes = (await stat(`${this.indexBase(name)}.hnsw`).catch(() => undefined))?.size ?? 0
    return {
      count: this.store.countDocuments(name),
      size_on_disk_bytes: this.store.storedBytes(name) + indexBytes,
      index_vectors: index?.size ?? 0,
      deleted_slots: index?.deletedSlots ?? 0,
      rescore_memory_bytes: this.rescoreVectors.get(name)?.bytes ?? 0,
    }
  }

  /**
   * Analyses the batch in event-loop slices, then commits it in transactions of about `writeSliceMs`
   * each (SQLite rows, FTS terms and the in-memory HNSW index together), yielding between them: a
   * 1,000 × 10 KB batch no longer holds the loop for seconds. Readers may see a batch half applied
   * while it is being written; it is acknowledged only when every slice has committed.
   */
  async upsert(collection: string, docs: readonly DocumentWrite[]): Promise<void> {
    const row = this.row(collection)
    await this.lexical.prepareUpsert(row, docs)
    const index = this.index(collection)
    const rescoreVectors = this.rescoreVectors.get(collection)
    let next = 0
    const slice = new WriteSlice(this.writeSliceMs)
    while (next < docs.length) {
      // A save in progress reads the graph on another thread; the transaction and its index mutations
      // run together after it, in one tick.
      if (index.whenWritable() !== undefined) await untilWritable(index)
      const written: [number, Float32Array][] = []
      const committed = next
      const seq = this.writeOrRestore(index, written, { written: committed, total: docs.length }, () => {
        let seq: number | undefined
        slice.begin()
        // At least one chunk per transaction, all under one write sequence number; no chunk that would overrun the slice.
        while (next < docs.length && slice.canStartChunk()) {
          slice.chunkStarted()
          const chunk = docs.slice(next, chunkEnd(docs, next))
          const result = this.store.upsertDocuments(collection, chunk, seq)
          this.lexical.onUpsert(row, chunk)
          result.labels.forEach((label, i) => {
            index.upsert(label, chunk[i]!.vector)
            written.push([label, chunk[i]!.vector])
          })
          seq = result.seq
          next += chunk.length
          slice.chunkEnded()
        }
        return seq!
      })
      // Applied once the transaction has committed, in the same tick: no search sees a vector SQLite
      // rolled back, nor misses one it committed.
      if (rescoreVectors !== undefined) for (const [label, vector] of written) rescoreVectors.set(label, vector)
      index.seq = seq
      if (next < docs.length) {
        await yieldToEventLoop()
        // Each transaction leaves an FTS5 segment; a merge step per transaction keeps the count low.
        this.lexical.mergeStep(collection)
        await yieldToEventLoop()
      }
    }
    this.scheduleSave(collection)
    await this.walSync.sync()
  }

  async delete(collection: string, ids: readonly string[]): Promise<string[]> {
    this.row(collection)
    // Waits out a save in progress, then reads the collection again (it may have been dropped meanwhile).
    for (let pending = this.index(collection).whenWritable(); pending !== undefined; pending = this.index(collection).whenWritable()) await pending
    const row = this.row(collection)
    const index = this.index(collection)
    const existing = [...this.store.documentsByIds(collection, ids).keys()]
    if (existing.length === 0) return []
    const { seq, labels } = this.write(() => {
      const result = this.store.deleteDocuments(collection, existing)
      this.lexical.onDelete(row, existing)
      return result
    })
    const rescoreVectors = this.rescoreVectors.get(collection)
    for (const label of labels) {
      index.remove(label)
      rescoreVectors?.delete(label)
    }
    index.seq = seq
    this.scheduleSave(collection)
    await this.walSync.sync()
    return existing
  }

  async getDocument(collection: string, id: string): Promise<StoredDocument | undefined> {
    this.row(collection)
    const doc = this.store.getDocument(collection, id)
    return doc === undefined ? undefined : { id: doc.id, text: doc.text, metadata: doc.metadata, vector: doc.vector }
  }

  async documents(collection: string, ids: readonly string[]): Promise<Map<string, DocumentBody>> {
    this.row(collection)
    const records = this.store.documentsByIds(collection, ids)
    return new Map([...records].map(([id, doc]) => [id, { text: doc.text, metadata: doc.metadata }]))
  }

  async vectors(collection: string, ids: readonly string[]): Promise<Map<string, Float32Array>> {
    this.row(collection)
    return this.store.vectorsByIds(collection, ids)
  }

  /**
   * The Matryoshka funnel: HNSW at the index dims for limit × oversample, then exact cosine at
   * `rescoreDims` over the shortlist's full vectors, from memory (the collection's `rescore_vectors`
   * encoding) or read from SQLite (`disk`). An index already at the rescoring dims holds the exact
   * vectors, so its scores are used as they are; a selective filter is scored exactly instead.
   */
  async denseSearch(collection: string, query: DenseQuery): Promise<DenseResult> {
    this.row(collection)
    const index = this.index(collection)
    const started = performance.now()
    const allowed = query.filter === undefined ? undefined : this.store.labelsMatching(collection, query.filter)
    const exact = allowed !== undefined && allowed.size <= EXACT_FILTER_LIMIT
    const walk = query.efSearch === undefined ? undefined : { ef: query.efSearch }
    const neighbours = exact ? undefined : index.search(query.vector, query.limit * query.oversample, allowed, walk)
    const retrieveMs = elapsedMs(started)
    const rescoreStart = performance.now()
    const scored =
      neighbours !== undefined && index.settings.dims === query.rescoreDims
        ? neighbours
            .map((n) => ({ label: n.label, score: n.similarity }))
            .sort((a, b) => b.score - a.score || a.label - b.label)
            .slice(0, query.limit)
        : this.rescore(collection, query, neighbours?.map((n) => n.label) ?? [...allowed!])
    const ids = this.store.idsByLabels(collection, scored.map((s) => s.label))
    const hits = scored.flatMap((s) => {
      const id = ids.get(s.label)
      return id === undefined ? [] : [{ id, score: s.score }]
    })
    return { hits, retrieve_ms: retrieveMs, rescore_ms: elapsedMs(rescoreStart), strategy: exact ? 'exact' : index.pools(query.limit * query.oversample, allowed, walk) ? 'hnsw_pool' : 'hnsw' }
  }

  /** Exact cosine at the query's rescoring dims over `labels`: in-memory rows when the collection keeps them. */
  private rescore(collection: string, query: DenseQuery, labels: number[]): ScoredLabel[] {
    const inMemory = this.rescoreVectors.get(collection)
    if (inMemory !== undefined) return inMemory.rescore(query.vector, labels, query.rescoreDims, query.limit)
    return rescoreAtFullDims(query.vector, this.store.vectorsByLabels(labels), query.rescoreDims, query.limit)
  }

  async lexicalSearch(collection: string, query: LexicalQuery): Promise<ScoredId[]> {
    const row = this.row(collection)
    const bm25 = this.lexical.forCollection(row)
    const limit = query.filter === undefined ? query.limit : Math.max(query.limit * 10, FILTERED_LEXICAL_MIN)
    const hits = 'terms' in query ? bm25.searchTerms(query.terms, limit) : bm25.search(query.query, limit, query.maxTerms)
    if (query.filter === undefined) return hits.map((h) => ({ id: h.id, score: h.score }))
    const allowed = this.store.idsMatching(collection, query.filter)
    return hits.filter((h) => allowed.has(h.id)).slice(0, query.limit).map((h) => ({ id: h.id, score: h.score }))
  }

  /**
   * The feedback documents' terms are read and counted ahead, in event-loop slices (issue 13, finding
   * 4), once the document frequencies queued by earlier writes are applied (feedback reads its own
   * writes' df; writes queued meanwhile are not waited for).
   */
  async termStatistics(collection: string, ids: readonly string[]): Promise<TermStatistics> {
    await this.lexical.current(this.row(collection))
    const slicer = new LoopSlicer()
    return this.lexical.forCollection(this.row(collection)).prefetchTermCounts(ids, () => slicer.slice())
  }

  analysis(collection: CollectionRecord): AnalysisSettings {
    return lexicalSettings(collection)
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

  /**
   * Distinct terms whose BM25 document-frequency changes are queued (a long document's write queues
   * them and they are applied in the background; pseudo-relevance feedback reads df a moment late).
   */
  pendingDocumentFrequencyTerms(collection: string): number {
    return this.lexical.pendingDocumentFrequencyTerms(this.row(collection))
  }

  /** Resolves once no queued document frequencies are being applied. */
  async whenIdle(): Promise<void> {
    await this.lexical.settled()
  }

  async close(): Promise<void> {
    await this.lexical.close()
    await (await this.checkpointer)?.close()
    for (const timer of this.saveTimers.values()) clearTimeout(timer)
    this.saveTimers.clear()
    for (const name of this.indexes.keys()) await this.saveIndex(name)
    this.indexes.clear()
    this.rescoreVectors.clear()
    await this.walSync.close()
    this.store.close()
  }
}

/** Resolves once no save is reading the index's graph; the caller mutates it in the same tick. */
async function untilWritable(index: DenseIndex): Promise<void> {
  for (let pending = index.whenWritable(); pending !== undefined; pending = index.whenWritable()) await pending
}
