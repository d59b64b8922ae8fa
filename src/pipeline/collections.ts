import { yieldToEventLoop } from '../event-loop.js'
import { errors, isFunnelError } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import type { Backend, CollectionRecord, CollectionStats, IndexSettings, StoredDocument } from '../store/backend.js'
import { RESCORE_VECTORS, defaultRescoreVectors, type CollectionInfo, type IndexSettings as ApiIndexSettings } from '../schemas/collections.js'
import type { UpsertDocument } from '../schemas/documents.js'
import { CollectionLifecycle, type LifecycleProbe } from './collection-lifecycle.js'

export type { CollectionInfo } from '../schemas/collections.js'

export interface CreateCollectionInput {
  name: string
  model?: string
  index?: Partial<ApiIndexSettings>
  /** Lexical analysis, default mode, rescoring vectors and other per-collection settings (the request's `lexical`, `default_mode`, `rescore_vectors`). */
  settings?: Record<string, unknown>
}

/** One document of an upsert, as the API takes it. */
export type DocumentInput = UpsertDocument

export const DEFAULT_INDEX: IndexSettings = { m: 16, ef_construction: 200, ef_search: 64 }
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

export interface CollectionServiceOptions {
  backend: Backend
  models: ModelRegistry
  log: (obj: object, msg: string) => void
  /** Test hook: awaited at named points of the lifecycle (see LifecyclePoint). */
  probe?: LifecycleProbe
}

/** What the metrics read per collection. */
export interface NamedStats extends CollectionStats {
  name: string
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
 * Collections and their documents over a storage `Backend`: validates names and dims, embeds
 * documents, and orders every operation on a collection with its CollectionLifecycle lock (reads and
 * writes shared; create, drop and boot-time opening exclusive), so none acts on a half-created,
 * dropped or unopened collection. Knows nothing of HTTP or of how the backend stores things.
 */
export class CollectionService {
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

  get backend(): Backend {
    return this.options.backend
  }

  /**
   * Opens every collection's indexes in the background and returns once the list is read: boot never
   * waits on the size of the data or the speed of the machine. Each collection is held exclusively
   * until it is open, so requests for it queue rather than fail; `notReady` says what is still
   * opening. Resolves `whenOpen` when all are done.
   */
  async startOpening(): Promise<void> {
    const records = await this.backend.listCollections()
    // Acquired in this tick, before any request on them can run: a grant on a free name is synchronous.
    const holds = records.map((record) => this.lifecycle.acquire(record.name, 'exclusive'))
    const state = { total: records.length, opened: 0, failed: new Map<string, string>(), done: Promise.resolve() } as NonNullable<typeof this.opening>
    this.opening = state
    state.done = (async () => {
      for (const [i, record] of records.entries()) {
        const release = await holds[i]!
        state.current = record.name
        try {
          await this.probe?.('open:collection', record.name)
          await this.backend.openCollection(record)
        } catch (error) {
          state.failed.set(record.name, (error as Error).message)
          this.options.log({ collection: record.name, err: error }, 'collection failed to open')
        } finally {
          state.opened++
          state.current = undefined
          release()
        }
      }
      await this.backend.afterOpen().catch((error: unknown) => this.options.log({ err: error }, 'post-open housekeeping failed'))
    })()
  }

  /** Settles once boot-time opening has finished (successfully or not). */
  get whenOpen(): Promise<void> {
    return this.opening?.done ?? Promise.resolve()
  }

  /** Why the collections are not ready (backend down, still opening, or failed to open); undefined when they are. */
  notReady(): string | undefined {
    const backend = this.backend.notReady()
    if (backend !== undefined) return backend
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

  async create(input: CreateCollectionInput): Promise<CollectionInfo> {
    if (!NAME_PATTERN.test(input.name)) {
      throw errors.invalidValue('name', input.name, 'use 1-64 letters, digits, "_" or "-", starting with a letter or digit')
    }
    if ((await this.backend.getCollection(input.name)) !== undefined) throw errors.collectionExists(input.name)
    const modelId = input.model ?? this.options.models.defaultModelId
    const model = await this.options.models.embedder(modelId)
    const indexDims = input.index?.dims ?? model.dims
    checkDimensions('index.dims', indexDims, model.dims, model.matryoshkaDims)
    const index: IndexSettings = {
      m: input.index?.m ?? DEFAULT_INDEX.m,
      ef_construction: input.index?.ef_construction ?? DEFAULT_INDEX.ef_construction,
      ef_search: input.index?.ef_search ?? DEFAULT_INDEX.ef_search,
    }
    const rescoreVectors = input.settings?.rescore_vectors ?? defaultRescoreVectors(indexDims, model.dims)
    if (!RESCORE_VECTORS.includes(rescoreVectors as never)) throw errors.invalidValue('rescore_vectors', rescoreVectors, `use one of ${RESCORE_VECTORS.join(', ')}`)
    // Stored resolved, so a later change of the default does not change an existing collection.
    const settings = { ...input.settings, rescore_vectors: rescoreVectors }
    return this.lifecycle.run(input.name, 'exclusive', async () => {
      await this.probe?.('create:commit', input.name)
      const record = await this.backend.createCollection({ name: input.name, model: modelId, dims: model.dims, index_dims: indexDims, index, settings })
      return this.describeRecord(record)
    })
  }

  /** Every collection; one dropped while the list is read is left out. */
  async list(): Promise<CollectionInfo[]> {
    const describeIfPresent = (name: string) =>
      this.describe(name).catch((error: unknown) => {
        if (isFunnelError(error) && error.code === 'collection_not_found') return undefined
        throw error
      })
    const infos = await Promise.all((await this.backend.listCollections()).map((record) => describeIfPresent(record.name)))
    return infos.filter((info): info is CollectionInfo => info !== undefined)
  }

  describe(name: string): Promise<CollectionInfo> {
    return this.withCollection(name, (record) => this.describeRecord(record))
  }

  private async describeRecord(record: CollectionRecord): Promise<CollectionInfo> {
    const stats = await this.backend.collectionStats(record.name)
    return {
      name: record.name,
      model: record.model,
      dims: record.dims,
      index: { dims: record.index_dims, ...record.index },
      settings: record.settings,
      count: stats.count,
      size_on_disk_bytes: stats.size_on_disk_bytes,
      rescore_memory_bytes: stats.rescore_memory_bytes ?? 0,
      created_at: record.created_at,
    }
  }

  /** Counts and index sizes of every collection not being created, dropped or opened (for metrics). */
  async stats(): Promise<NamedStats[]> {
    const names = (await this.backend.listCollections()).map((r) => r.name).filter((name) => !this.lifecycle.isChanging(name))
    const stats = await Promise.all(
      names.map((name) =>
        this.withCollection(name, async () => ({ name, ...(await this.backend.collectionStats(name)) })).catch((error: unknown) => {
          if (isFunnelError(error) && error.code === 'collection_not_found') return undefined
          throw error
        }),
      ),
    )
    return stats.filter((s): s is NamedStats => s !== undefined)
  }

  drop(name: string): Promise<void> {
    return this.lifecycle.run(name, 'exclusive', async () => {
      if (!(await this.backend.dropCollection(name))) throw errors.collectionNotFound(name)
    })
  }

  /**
   * Runs `fn` with the collection's record while holding it shared: no create, drop or boot-time open
   * of this collection runs until `fn` settles, so the record and its indexes stay one generation.
   */
  withCollection<T>(name: string, fn: (record: CollectionRecord) => Promise<T> | T): Promise<T> {
    return this.lifecycle.run(name, 'shared', async () => {
      const record = await this.backend.getCollection(name)
      if (record === undefined) throw errors.collectionNotFound(name)
      return fn(record)
    })
  }

  /**
   * Embeds and upserts a batch a group at a time (about {@link UPSERT_GROUP_CHARS} characters each);
   * resolves once the backend has acknowledged every document. Only one group's tokens, vectors and
   * analysed terms are alive at once: embedding and analysing a whole 10 MB batch before writing it
   * kept ~120 MB live, and the garbage collector's pauses over it were the longest event-loop stalls
   * left (docs/benchmarks/event-loop.md). A batch that fails part-way leaves its earlier groups
   * written, as a failed write slice already did; upserts are idempotent by id, so a retry is safe.
   */
  upsert(name: string, docs: readonly DocumentInput[]): Promise<{ upserted: number; truncated: string[]; embed_ms: number }> {
    return this.withCollection(name, async (record) => {
      const model = await this.options.models.embedder(record.model)
      // Parsing and validating a large body (~60 ms for 10 MB) ran in this same stretch: let the loop turn first.
      await yieldToEventLoop()
      let embedMs = 0
      const truncated: string[] = []
      for (const [start, end] of upsertGroups(docs)) {
        const group = docs.slice(start, end)
        const started = performance.now()
        const embedded = await model.embed(group.map((d) => d.text), 'document')
        embedMs += performance.now() - started
        group.forEach((d, i) => embedded.truncated[i] && truncated.push(d.id))
        await this.backend.upsert(name, group.map((d, i) => ({ id: d.id, text: d.text, metadata: d.metadata ?? null, vector: embedded.vectors[i]! })))
      }
      return { upserted: docs.length, truncated, embed_ms: Math.round(embedMs * 100) / 100 }
    })
  }

  getDocument(name: string, id: string): Promise<StoredDocument> {
    return this.withCollection(name, async () => {
      const doc = await this.backend.getDocument(name, id)
      if (doc === undefined) throw errors.documentNotFound(name, id)
      return doc
    })
  }

  /** Deletes one document from every index of the collection. */
  deleteDocument(name: string, id: string): Promise<void> {
    return this.withCollection(name, async () => {
      const deleted = await this.backend.delete(name, [id])
      if (deleted.length === 0) throw errors.documentNotFound(name, id)
    })
  }

  /** Waits for boot-time opening, then closes the backend (which saves what it keeps in memory). */
  async close(): Promise<void> {
    await this.whenOpen
    await this.backend.close()
  }
}

/** Text an upsert embeds and writes per group (see {@link CollectionService.upsert}). */
export const UPSERT_GROUP_CHARS = 1_000_000

/** [start, end) ranges of consecutive documents holding at most `maxChars` of text each (at least one document). */
export function upsertGroups(docs: readonly { text: string }[], maxChars: number = UPSERT_GROUP_CHARS): [number, number][] {
  const groups: [number, number][] = []
  let start = 0
  let chars = 0
  docs.forEach((doc, i) => {
    if (i > start && chars + doc.text.length > maxChars) {
      groups.push([start, i])
      start = i
      chars = 0
    }
    chars += doc.text.length
  })
  if (start < docs.length) groups.push([start, docs.length])
  return groups
}
