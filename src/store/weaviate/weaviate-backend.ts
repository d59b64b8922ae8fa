import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Config } from '../../config.js'
import { Value } from 'typebox/value'
import { Filters, type Collection, type ConsistencyLevel, type WeaviateClient, type WeaviateNonGenericObject } from 'weaviate-client'
import { errors, isFunnelError } from '../../errors.js'
import { LoopSlicer } from '../../event-loop.js'
import { MAX_WEIGHTED_TERMS, type TermStatistics } from '../../retrieval/bm25-index.js'
import { AnalysisSettingsSchema, analyze, analyzeInSlices, countTerms, defaultAnalysisSettings, type AnalysisSettings } from '../../retrieval/text-analysis.js'
import { cosineAtDims } from '../../retrieval/vector-math.js'
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
import { CollectionCatalog } from './collection-catalog.js'
import { createDocumentClass, FULL_VECTOR, PREFIX_VECTOR } from './document-class.js'
import { metadataFilter, metadataTerms } from './metadata-terms.js'
import { WeaviateCalibratorRepository } from './weaviate-calibrators.js'
import { dataClassName, documentUuid } from './weaviate-names.js'
import { NodePool, parseWeaviateUrls } from './weaviate-nodes.js'
import { weightedQuery } from './weighted-query.js'

export interface WeaviateBackendOptions {
  /** FUNNEL_WEAVIATE_URLS: `http://host:port?grpc=PORT`, comma-separated, one per node. */
  urls: string
  apiKey?: string
  /** Write (and read) consistency: how many replicas acknowledge before Funnel answers. */
  consistency: ConsistencyLevel
  /** Deadline of one call to the cluster, across retries on other nodes. */
  timeoutMs: number
  /** Copies of each class Funnel creates. */
  replicationFactor: number
  /** Shards per collection (default 1: BM25 statistics over the whole collection, as in FTS5). */
  shards?: number
  /** First part of every class name; tests and deployments sharing one cluster use their own. */
  classPrefix?: string
  /** How often /readyz's view of the cluster is refreshed. */
  healthIntervalMs?: number
  /**
   * How long a write waits for every node in the rotation to show it before the laggards are left
   * out of the rotation (default 10 s). See `awaitOnEveryNode`.
   */
  visibilityWaitMs?: number
  /** How long a node that restarted, or lagged behind a write, is left out of the rotation (default 60 s). */
  catchUpMs?: number
  /** Fastify's `app.log` or any pino logger. */
  log: Pick<Logger, 'info' | 'warn'>
}

/** The backend FUNNEL_BACKEND=weaviate runs, from the FUNNEL_WEAVIATE_* settings. */
export function weaviateBackendFromConfig(
  config: Pick<Config, 'weaviateUrls' | 'weaviateApiKey' | 'weaviateConsistency' | 'weaviateTimeoutMs' | 'weaviateReplicationFactor' | 'weaviateShards'>,
  log: Pick<Logger, 'info' | 'warn'>,
): WeaviateBackend {
  return new WeaviateBackend({
    urls: config.weaviateUrls,
    ...(config.weaviateApiKey !== '' && { apiKey: config.weaviateApiKey }),
    consistency: config.weaviateConsistency,
    timeoutMs: config.weaviateTimeoutMs,
    replicationFactor: config.weaviateReplicationFactor,
    shards: config.weaviateShards,
    log,
  })
}

/** Below this many filter matches, scoring them all exactly beats a filtered HNSW search (as in the embedded backend). */
const EXACT_FILTER_LIMIT = 2048
/** Objects per read request and per write batch (a batch is also cut at ~4 MB of text and vectors). */
const READ_CHUNK = 500
const WRITE_CHUNK = 200
const WRITE_CHUNK_BYTES = 4 * 1024 * 1024
/** Analysed terms per GraphQL request when counting document frequencies. */
const DF_CHUNK = 100
const MAX_RESULTS = 10_000
const DEFAULT_HEALTH_INTERVAL_MS = 2000
const DEFAULT_VISIBILITY_WAIT_MS = 10_000
// Async replication brought a restarted node up to date 32-41 s after it was ready (measured here).
const DEFAULT_CATCH_UP_MS = 60_000
/** Extra BM25 hits fetched so that ties at the cut are broken by id, as the contract asks. */
const TIE_MARGIN = 16
/** How long a collection record read from the catalog is reused (it only changes by drop and re-create). */
const RECORD_TTL_MS = 1000

const byScoreThenId = (a: ScoredId, b: ScoredId): number => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** Weaviate's words for "this class does not exist", in REST and gRPC answers. */
const CLASS_MISSING = /class .*(not found|does not exist)|could not find class|no such class|collection .*not (found|exist)/i

interface DocumentProperties {
  doc_id: string
  text: string
  analysed_text: string
  metadata_json: string
  meta_terms: string[]
  write_id: string
}

/**
 * The distributed backend: every collection is a Weaviate class (`document-class.ts`) replicated
 * across the cluster, with the collection catalog and the calibrators in classes of their own, so a
 * Funnel replica keeps nothing on local disk and any number of replicas serve the same data.
 *
 * Writes are batches of objects at deterministic UUIDs (`weaviate-names.ts`) at the configured
 * consistency (QUORUM by default), so a retried write after a timeout lands on the same objects.
 * Dense search runs HNSW on the `prefix` vector and rescores exactly on the returned `full` vectors
 * here; BM25 runs in Weaviate over Funnel's own analysed terms; filters run server-side on
 * `meta_terms` (`metadata-terms.ts`). Every call goes through `NodePool`, which fails over to the
 * next node on a node loss or a leader election.
 *
 * @example
 *   const backend = new WeaviateBackend({ urls: process.env.FUNNEL_WEAVIATE_URLS!, consistency: 'QUORUM', timeoutMs: 30_000, replicationFactor: 3, log })
 *   await backend.createCollection({ name: 'books', model, dims: 384, index_dims: 96, index, settings: {} })
 *   await backend.upsert('books', [{ id: 'a', text: 'the king', metadata: null, vector }])
 */
export class WeaviateBackend implements Backend {
  readonly kind = 'weaviate'
  readonly calibrators: WeaviateCalibratorRepository
  private readonly nodes: NodePool
  private readonly catalog: CollectionCatalog
  private readonly prefix: string
  private readonly records = new Map<string, { record: CollectionRecord; readAt: number }>()
  private health: { ready: number; total: number; checkedAt: number } | undefined
  private healthTimer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly options: WeaviateBackendOptions) {
    this.prefix = options.classPrefix ?? 'Funnel'
    if (!/^[A-Z][A-Za-z0-9]{0,30}$/.test(this.prefix)) throw errors.invalidValue('classPrefix', this.prefix, 'a capital letter, then up to 30 letters and digits')
    this.nodes = new NodePool({ endpoints: parseWeaviateUrls(options.urls), ...(options.apiKey ? { apiKey: options.apiKey } : {}), timeoutMs: options.timeoutMs })
    const meta = {
      replicationFactor: options.replicationFactor,
      visibilityWaitMs: options.visibilityWaitMs ?? DEFAULT_VISIBILITY_WAIT_MS,
      catchUpMs: options.catchUpMs ?? DEFAULT_CATCH_UP_MS,
    }
    this.catalog = new CollectionCatalog(this.nodes, this.prefix, options.consistency, meta)
    this.calibrators = new WeaviateCalibratorRepository(this.nodes, this.prefix, options.consistency, meta)
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** Weaviate keeps its own indexes: nothing to load. */
  async openCollection(): Promise<void> {}

  /** Starts watching the nodes' readiness for /readyz. */
  async afterOpen(): Promise<void> {
    await this.checkHealth()
    this.healthTimer ??= setInterval(() => void this.checkHealth(), this.options.healthIntervalMs ?? DEFAULT_HEALTH_INTERVAL_MS).unref()
  }

  private async checkHealth(): Promise<void> {
    const interval = this.options.healthIntervalMs ?? DEFAULT_HEALTH_INTERVAL_MS
    const ready = await this.nodes.readyNodes(Math.min(2000, interval), 2 * interval, this.options.catchUpMs ?? DEFAULT_CATCH_UP_MS)
    const total = this.nodes.endpoints.length
    if (this.health !== undefined && ready.length !== this.health.ready) {
      this.options.log[ready.length === total ? 'info' : 'warn']({ ready: ready.map((n) => n.url), total }, 'weaviate nodes ready changed')
    }
    this.health = { ready: ready.length, total, checkedAt: Date.now() }
  }

  /** Not ready only when no node answers; fewer than all is degraded (see `degraded`), and still serves. */
  notReady(): Readiness {
    if (this.closed) return 'the weaviate backend is closed'
    if (this.health !== undefined && this.health.ready === 0) return `no Weaviate node is ready (of ${this.health.total}: ${this.nodes.endpoints.map((n) => n.url).join(', ')})`
    return undefined
  }

  /** Why the cluster is serving with less redundancy than configured; undefined when every node is ready. */
  degraded(): string | undefined {
    if (this.health === undefined || this.health.ready === this.health.total || this.health.ready === 0) return undefined
    return `${this.health.total - this.health.ready} of ${this.health.total} Weaviate nodes not ready`
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.healthTimer !== undefined) clearInterval(this.healthTimer)
    await this.nodes.close()
  }

  // ---- collections --------------------------------------------------------------------------------

  private className(collection: string): string {
    return dataClassName(this.prefix, collection)
  }

  private use(client: WeaviateClient, collection: string): Collection {
    return client.collections.use(this.className(collection)).withConsistency(this.options.consistency) as Collection
  }

  /** The collection's record, or collection_not_found. */
  private async record(collection: string): Promise<CollectionRecord> {
    const cached = this.records.get(collection)
    if (cached !== undefined && Date.now() - cached.readAt < RECORD_TTL_MS) return cached.record
    const record = await this.getCollection(collection)
    if (record === undefined) throw errors.collectionNotFound(collection)
    return record
  }

  /** Runs a call on a collection's class; a class dropped meanwhile (by another replica) reads as collection_not_found. */
  private async onCollection<T>(collection: string, operation: (handle: Collection) => Promise<T>): Promise<T> {
    try {
      return await this.nodes.run((client) => operation(this.use(client, collection)))
    } catch (error) {
      if (isFunnelError(error)) throw error
      if (CLASS_MISSING.test(String(error))) {
        this.records.delete(collection)
        throw errors.collectionNotFound(collection)
      }
      throw errors.storage(`weaviate: ${String(error).slice(0, 500)}`)
    }
  }

  async createCollection(spec: CollectionSpec): Promise<CollectionRecord> {
    const record: CollectionRecord = { ...structuredClone(spec), created_at: new Date().toISOString() }
    if ((await this.catalog.get(spec.name)) !== undefined) throw errors.collectionExists(spec.name)
    // The class first, then the record: a record is only ever visible with its class in place. A
    // class left without a record (a crash in between) is adopted by the next create of that name.
    await this.nodes.run(async (client) => {
      try {
        await createDocumentClass(client, this.className(spec.name), spec, { replicationFactor: this.options.replicationFactor, shards: this.options.shards ?? 1 })
      } catch (error) {
        if (!/already exists/i.test(String(error))) throw error
      }
    })
    // Schema changes reach each node through Raft a moment apart: wait until every node can write to the class.
    await this.awaitOnEveryNode(spec.name, 'create', async (handle) => (await handle.query.fetchObjects({ limit: 1, returnProperties: ['doc_id'] }), 1), 1)
    const stored = await this.catalog.insert(record)
    if (stored.created_at !== record.created_at) throw errors.collectionExists(spec.name)
    this.records.set(spec.name, { record, readAt: Date.now() })
    this.options.log.info({ collection: spec.name, class: this.className(spec.name), dims: spec.dims, index_dims: spec.index_dims }, 'created weaviate collection')
    return record
  }

  async getCollection(name: string): Promise<CollectionRecord | undefined> {
    const record = await this.catalog.get(name)
    if (record === undefined) this.records.delete(name)
    else this.records.set(name, { record, readAt: Date.now() })
    return record
  }

  listCollections(): Promise<CollectionRecord[]> {
    return this.catalog.list()
  }

  async dropCollection(name: string): Promise<boolean> {
    this.records.delete(name)
    const existed = await this.catalog.remove(name)
    await this.nodes.run(async (client) => {
      if (await client.collections.exists(this.className(name))) await client.collections.delete(this.className(name))
    })
    return existed
  }

  async collectionStats(name: string): Promise<CollectionStats> {
    await this.record(name)
    const count = await this.onCollection(name, async (handle) => (await handle.aggregate.overAll()).totalCount)
    // Weaviate reports no per-class disk size over its API, and its HNSW reclaims deleted nodes itself.
    return { count, size_on_disk_bytes: 0, index_vectors: count, deleted_slots: 0 }
  }

  analysis(collection: CollectionRecord): AnalysisSettings {
    const stored = collection.settings.lexical
    return stored === undefined ? { ...defaultAnalysisSettings } : (Value.Default(AnalysisSettingsSchema, structuredClone(stored)) as AnalysisSettings)
  }

  // ---- documents ----------------------------------------------------------------------------------

  async upsert(collection: string, docs: readonly DocumentWrite[]): Promise<void> {
    if (docs.length === 0) return
    const record = await this.record(collection)
    const settings = this.analysis(record)
    const slicer = new LoopSlicer()
    const writeId = randomUUID()
    let batch: Parameters<Collection['data']['insertMany']>[0] = []
    let batchBytes = 0
    const flush = async () => {
      if (batch.length === 0) return
      const objects = batch
      batch = []
      batchBytes = 0
      const result = await this.onCollection(collection, (handle) => handle.data.insertMany(objects))
      if (result.hasErrors) {
        const [index, first] = Object.entries(result.errors)[0]!
        throw errors.storage(`weaviate refused ${Object.keys(result.errors).length} of ${objects.length} documents (first, #${index}: ${first.message})`)
      }
      const uuids = objects.map((object) => (object as { id: string }).id)
      await this.awaitOnEveryNode(collection, 'upsert', (handle) => countVersion(handle, uuids, writeId), uuids.length)
    }
    for (const doc of docs) {
      if (doc.vector.length !== record.dims) throw errors.invalidValue('vector', doc.vector.length, `collection '${collection}' holds ${record.dims}-dimensional vectors`)
      const properties: DocumentProperties = {
        doc_id: doc.id,
        text: doc.text,
        // A long text is analysed in pieces with yields between them, as the embedded backend does.
        analysed_text: (await analyzeInSlices(doc.text, settings, () => slicer.slice())).join(' '),
        metadata_json: JSON.stringify(doc.metadata),
        meta_terms: metadataTerms(doc.metadata),
        write_id: writeId,
      }
      batch.push({
        id: documentUuid(collection, doc.id),
        properties: { ...properties },
        vectors: { [PREFIX_VECTOR]: Array.from(doc.vector.subarray(0, record.index_dims)), [FULL_VECTOR]: Array.from(doc.vector) },
      })
      batchBytes += 2 * (doc.text.length + properties.analysed_text.length + properties.metadata_json.length) + 4 * (record.dims + record.index_dims)
      if (batch.length >= WRITE_CHUNK || batchBytes >= WRITE_CHUNK_BYTES) await flush()
      await slicer.slice()
    }
    await flush()
  }

  async delete(collection: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return []
    await this.record(collection)
    const existing = new Set((await this.fetch(collection, ids, ['doc_id'], false)).keys())
    const uuids = [...new Set(ids)].map((id) => documentUuid(collection, id))
    for (let i = 0; i < uuids.length; i += READ_CHUNK) {
      const chunk = uuids.slice(i, i + READ_CHUNK)
      await this.onCollection(collection, (handle) => handle.data.deleteMany(handle.filter.byId().containsAny(chunk)))
    }
    // A batch delete finds its matches on one replica per shard; one that missed writes while it was
    // down would leave them in place. Whatever is still found is deleted by id, on every replica.
    const left = await this.fetch(collection, [...existing], ['doc_id'], false)
    for (const id of left.keys()) await this.onCollection(collection, (handle) => handle.data.deleteById(documentUuid(collection, id)))
    const gone = [...existing].map((id) => documentUuid(collection, id))
    for (let i = 0; i < gone.length; i += READ_CHUNK) {
      const chunk = gone.slice(i, i + READ_CHUNK)
      await this.awaitOnEveryNode(collection, 'delete', (handle) => countVersion(handle, chunk), 0)
    }
    return ids.filter((id, i) => existing.has(id) && ids.indexOf(id) === i)
  }

  /** Objects of `ids` (deduplicated, chunked), by Funnel id; missing ids are absent. */
  private async fetch(collection: string, ids: readonly string[], properties: (keyof DocumentProperties)[], withVector: boolean): Promise<Map<string, WeaviateNonGenericObject>> {
    const found = new Map<string, WeaviateNonGenericObject>()
    const unique = [...new Set(ids)]
    for (let i = 0; i < unique.length; i += READ_CHUNK) {
      const uuids = unique.slice(i, i + READ_CHUNK).map((id) => documentUuid(collection, id))
      const { objects } = await this.onCollection(collection, (handle) =>
        handle.query.fetchObjects({
          filters: handle.filter.byId().containsAny(uuids),
          limit: uuids.length,
          returnProperties: properties,
          ...(withVector && { includeVector: [FULL_VECTOR] }),
        }),
      )
      for (const object of objects) found.set(object.properties.doc_id as string, object as WeaviateNonGenericObject)
    }
    return found
  }

  /**
   * Waits until every node in the rotation shows a write (see `NodePool.awaitOnEveryNode`): a
   * Weaviate search runs on the replica of the node it is sent to, and a QUORUM write is
   * acknowledged before the last replica has applied it.
   */
  private async awaitOnEveryNode(collection: string, what: string, count: (handle: Collection) => Promise<number>, expected: number): Promise<void> {
    const className = this.className(collection)
    const waitMs = this.options.visibilityWaitMs ?? DEFAULT_VISIBILITY_WAIT_MS
    const laggards = await this.nodes.awaitOnEveryNode(
      (client) => count(client.collections.use(className).withConsistency('ONE') as Collection),
      expected,
      waitMs,
      this.options.catchUpMs ?? DEFAULT_CATCH_UP_MS,
    )
    for (const node of laggards) {
      this.options.log.warn({ collection, node: node.url, what, wait_ms: waitMs }, 'weaviate node does not show an acknowledged write; left out of the rotation')
    }
  }

  async getDocument(collection: string, id: string): Promise<StoredDocument | undefined> {
    await this.record(collection)
    const object = await this.onCollection(collection, (handle) =>
      handle.query.fetchObjectById(documentUuid(collection, id), { includeVector: [FULL_VECTOR], returnProperties: ['doc_id', 'text', 'metadata_json'] }),
    )
    if (object === null || object.properties.doc_id !== id) return undefined
    return { id, ...toBody(object.properties), vector: fullVector(object as WeaviateNonGenericObject) }
  }

  async documents(collection: string, ids: readonly string[]): Promise<Map<string, DocumentBody>> {
    await this.record(collection)
    const objects = await this.fetch(collection, ids, ['doc_id', 'text', 'metadata_json'], false)
    return new Map([...objects].map(([id, object]) => [id, toBody(object.properties)]))
  }

  async vectors(collection: string, ids: readonly string[]): Promise<Map<string, Float32Array>> {
    await this.record(collection)
    const objects = await this.fetch(collection, ids, ['doc_id'], true)
    return new Map([...objects].map(([id, object]) => [id, fullVector(object)]))
  }

  // ---- search -------------------------------------------------------------------------------------

  async denseSearch(collection: string, query: DenseQuery): Promise<DenseResult> {
    const record = await this.record(collection)
    if (query.vector.length !== record.dims) throw errors.invalidValue('vector', query.vector.length, `collection '${collection}' holds ${record.dims}-dimensional vectors`)
    if (query.efSearch !== undefined) throw errors.invalidValue('ef_search', query.efSearch, "the Weaviate backend sets ef per collection (index.ef_search); leave ef_search out")
    const started = performance.now()
    const { objects, strategy } = await this.onCollection(collection, async (handle) => {
      const filters = metadataFilter(handle, query.filter)
      if (filters !== undefined && (await handle.aggregate.overAll({ filters })).totalCount <= EXACT_FILTER_LIMIT) {
        const { objects } = await handle.query.fetchObjects({ filters, limit: EXACT_FILTER_LIMIT, returnProperties: ['doc_id'], includeVector: [FULL_VECTOR] })
        return { objects, strategy: 'exact' as const }
      }
      const { objects } = await handle.query.nearVector(Array.from(query.vector.subarray(0, record.index_dims)), {
        targetVector: PREFIX_VECTOR,
        // Weaviate answers at most QUERY_MAXIMUM_RESULTS (10,000 by default) objects per search.
        limit: Math.min(query.limit * query.oversample, MAX_RESULTS),
        ...(filters !== undefined && { filters }),
        returnProperties: ['doc_id'],
        includeVector: [FULL_VECTOR],
      })
      return { objects, strategy: 'hnsw' as const }
    })
    const retrieveMs = performance.now() - started
    const rescoreStarted = performance.now()
    const hits = objects
      .map((object) => ({ id: object.properties.doc_id as string, score: cosineAtDims(query.vector, fullVector(object as WeaviateNonGenericObject), query.rescoreDims) }))
      .sort(byScoreThenId)
      .slice(0, query.limit)
    return { hits, retrieve_ms: retrieveMs, rescore_ms: performance.now() - rescoreStarted, strategy }
  }

  async lexicalSearch(collection: string, query: LexicalQuery): Promise<ScoredId[]> {
    if (!Number.isInteger(query.limit) || query.limit < 1) throw errors.invalidValue('limit', query.limit, 'limit must be an integer >= 1')
    const record = await this.record(collection)
    let text: string
    let scale = 1
    if ('query' in query) {
      const terms = analyze(query.query, this.analysis(record))
      const distinct = countTerms(terms).size
      const maxTerms = query.maxTerms ?? MAX_WEIGHTED_TERMS
      if (distinct > maxTerms) throw errors.tooManyQueryTerms(distinct, maxTerms)
      text = terms.join(' ')
    } else {
      ;({ query: text, scale } = weightedQuery(query.terms))
    }
    if (text === '') return []
    const { objects } = await this.onCollection(collection, (handle) => {
      const filters = metadataFilter(handle, query.filter)
      return handle.query.bm25(text, {
        queryProperties: ['analysed_text'],
        limit: Math.min(query.limit + TIE_MARGIN, MAX_RESULTS),
        ...(filters !== undefined && { filters }),
        returnMetadata: ['score'],
        returnProperties: ['doc_id'],
      })
    })
    return objects
      .map((object) => ({ id: object.properties.doc_id as string, score: (object.metadata?.score ?? 0) * scale }))
      .sort(byScoreThenId)
      .slice(0, query.limit)
  }

  async termStatistics(collection: string, ids: readonly string[]): Promise<TermStatistics> {
    const record = await this.record(collection)
    const settings = this.analysis(record)
    const objects = await this.fetch(collection, ids, ['doc_id', 'analysed_text'], false)
    const counts = new Map<string, Map<string, number>>()
    for (const [id, object] of objects) {
      const analysed = (object.properties.analysed_text as string | undefined) ?? ''
      counts.set(id, countTerms(analysed === '' ? [] : analysed.split(' ')))
    }
    const terms = [...new Set([...counts.values()].flatMap((tf) => [...tf.keys()]))]
    const [frequencies, total] = await Promise.all([
      this.documentFrequencies(collection, terms),
      this.onCollection(collection, async (handle) => (await handle.aggregate.overAll()).totalCount),
    ])
    return {
      analyzeQuery: (text) => analyze(text, settings),
      termCounts: (wanted) => new Map(wanted.flatMap((id) => (counts.has(id) ? [[id, counts.get(id)!] as const] : []))),
      // Only the feedback documents' terms are counted up front (RM3 asks for no others); any other term reads as 0.
      documentFrequencies: (wanted) => new Map(wanted.map((term) => [term, frequencies.get(term) ?? 0])),
      count: () => total,
    }
  }

  /**
   * Documents containing each term, counted by Weaviate: one GraphQL request per `DF_CHUNK` terms,
   * each term an aliased Aggregate with an Equal filter on the whitespace-tokenized `analysed_text`
   * (a lookup in its filterable index). The client library has no aliased aggregates, so this is
   * the one place Funnel speaks GraphQL.
   */
  private async documentFrequencies(collection: string, terms: readonly string[]): Promise<Map<string, number>> {
    const frequencies = new Map<string, number>()
    const className = this.className(collection)
    for (let i = 0; i < terms.length; i += DF_CHUNK) {
      const chunk = terms.slice(i, i + DF_CHUNK)
      const fields = chunk.map(
        (term, j) => `t${j}: ${className}(where: {path: ["analysed_text"], operator: Equal, valueText: ${JSON.stringify(term)}}) { meta { count } }`,
      )
      const body = JSON.stringify({ query: `{ Aggregate { ${fields.join(' ')} } }` })
      const data = await this.nodes.run(async (_client, endpoint) => {
        const response = await fetch(`${endpoint.url}/v1/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.nodes.headers },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        })
        const answer = (await response.json()) as { data?: { Aggregate?: Record<string, { meta: { count: number } }[]> }; errors?: { message: string }[] }
        if (!response.ok || answer.errors !== undefined) {
          const message = answer.errors?.map((e) => e.message).join('; ') ?? `status code: ${response.status}`
          if (CLASS_MISSING.test(message)) throw errors.collectionNotFound(collection)
          throw new Error(`weaviate graphql: ${message}`)
        }
        return answer.data?.Aggregate ?? {}
      })
      chunk.forEach((term, j) => frequencies.set(term, data[`t${j}`]?.[0]?.meta.count ?? 0))
    }
    return frequencies
  }
}

/** Objects among `uuids` the node holds (in the version `writeId` wrote, when given). */
async function countVersion(handle: Collection, uuids: readonly string[], writeId?: string): Promise<number> {
  const byId = handle.filter.byId().containsAny([...uuids])
  const filters = writeId === undefined ? byId : Filters.and(byId, handle.filter.byProperty('write_id').equal(writeId))
  const { objects } = await handle.query.fetchObjects({ filters, limit: uuids.length, returnProperties: ['doc_id'] })
  return objects.length
}

function toBody(properties: Record<string, unknown>): DocumentBody {
  return { text: (properties.text as string | undefined) ?? '', metadata: JSON.parse((properties.metadata_json as string | undefined) ?? 'null') as DocumentBody['metadata'] }
}

function fullVector(object: WeaviateNonGenericObject): Float32Array {
  const vector = object.vectors[FULL_VECTOR]
  if (vector === undefined) throw errors.storage(`weaviate returned object ${object.uuid} without its '${FULL_VECTOR}' vector`)
  return Float32Array.from(vector as number[])
}
