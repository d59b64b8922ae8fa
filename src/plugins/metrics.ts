import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Latency buckets in seconds: a cheap cached search up to a long batch upsert. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

/** What the collection gauges read at scrape time. */
export interface CollectionStats {
  name: string
  documents: number
  indexVectors: number
  /** HNSW slots of deleted documents not yet reused by an insert. */
  deletedVectors: number
  sizeOnDiskBytes: number
  /** Memory allocated for the collection's in-memory rescoring vectors (0 for `disk`). */
  rescoreMemoryBytes: number
}

/**
 * The app's Prometheus metrics, on a registry of its own (never the global default, so many apps can
 * live in one process). Pipeline code reports through `observeStage` and `observeOnnxRun`.
 *
 * @example
 *   const started = performance.now()
 *   const vectors = await session.run(feeds)
 *   app.metrics.observeOnnxRun(model.id, performance.now() - started, texts.length)
 */
export class FunnelMetrics {
  readonly registry = new Registry()
  private readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>
  private readonly errorsTotal: Counter<'code' | 'status_code'>
  private readonly stageDuration: Histogram<'stage'>
  private readonly onnxRunDuration: Histogram<'model'>
  private readonly onnxBatchSize: Histogram<'model'>
  private readonly embedBatchCallers: Histogram<'model'>
  private readonly queryCacheLookups: Counter<'model' | 'result'>

  constructor(collectionStats: () => Promise<CollectionStats[]>) {
    const registers = [this.registry]
    this.requestDuration = new Histogram({
      name: 'funnel_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.errorsTotal = new Counter({
      name: 'funnel_http_errors_total',
      help: 'Error responses by catalogue error code',
      labelNames: ['code', 'status_code'],
      registers,
    })
    this.stageDuration = new Histogram({
      name: 'funnel_stage_duration_seconds',
      help: 'Pipeline stage latency (embed, retrieve, rescore, rerank, ...)',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.onnxRunDuration = new Histogram({
      name: 'funnel_onnx_run_duration_seconds',
      help: 'Duration of one onnxruntime session run',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.onnxBatchSize = new Histogram({
      name: 'funnel_onnx_batch_size',
      help: 'Inputs per onnxruntime session run',
      labelNames: ['model'],
      buckets: BATCH_BUCKETS,
      registers,
    })
    this.embedBatchCallers = new Histogram({
      name: 'funnel_embed_batch_callers',
      help: 'Concurrent embed calls merged into one model call by the micro-batcher',
      labelNames: ['model'],
      buckets: BATCH_BUCKETS,
      registers,
    })
    this.queryCacheLookups = new Counter({
      name: 'funnel_query_cache_lookups_total',
      help: 'Query embedding cache lookups by result (hit or miss)',
      labelNames: ['model', 'result'],
      registers,
    })
    this.collectionGauges(collectionStats)
    collectDefaultMetrics({ register: this.registry })
  }

  /** Documents, index vectors and bytes on disk per collection, read when Prometheus scrapes. */
  private collectionGauges(collectionStats: () => Promise<CollectionStats[]>): void {
    let inFlight: Promise<CollectionStats[]> | undefined
    // The gauges share one read per scrape: prom-client starts every collect in the same tick,
    // so the first starts the read and the others join it; once it settles the next scrape reads afresh.
    const read = (): Promise<CollectionStats[]> => {
      inFlight ??= collectionStats().finally(() => (inFlight = undefined))
      return inFlight
    }
    const gauge = (name: string, help: string, value: (s: CollectionStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['collection'],
        registers: [this.registry],
        async collect() {
          const stats = await read()
          this.reset()
          for (const s of stats) this.set({ collection: s.name }, value(s))
        },
      })
    gauge('funnel_collection_documents', 'Documents stored per collection', (s) => s.documents)
    gauge('funnel_collection_index_vectors', 'Vectors in the HNSW index per collection', (s) => s.indexVectors)
    gauge('funnel_collection_index_deleted_vectors', 'HNSW slots of deleted documents not yet reused by an insert, per collection', (s) => s.deletedVectors)
    gauge('funnel_collection_size_bytes', 'Bytes on disk per collection (documents, vectors and index file)', (s) => s.sizeOnDiskBytes)
    gauge('funnel_collection_rescore_memory_bytes', 'Bytes allocated for in-memory rescoring vectors per collection (rescore_vectors; 0 for disk)', (s) => s.rescoreMemoryBytes)
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status_code: String(statusCode) }, seconds)
  }

  countError(code: string, statusCode: number): void {
    this.errorsTotal.inc({ code, status_code: String(statusCode) })
  }

  /** One pipeline stage took `ms` milliseconds. */
  observeStage(stage: string, ms: number): void {
    this.stageDuration.observe({ stage }, ms / 1000)
  }

  /** One onnxruntime run of `model` took `ms` milliseconds over `batchSize` inputs. */
  observeOnnxRun(model: string, ms: number, batchSize: number): void {
    this.onnxRunDuration.observe({ model }, ms / 1000)
    this.onnxBatchSize.observe({ model }, batchSize)
  }

  /** The micro-batcher merged `callers` embed calls of `model` into one. */
  observeEmbedBatch(model: string, callers: number): void {
    this.embedBatchCallers.observe({ model }, callers)
  }

  countQueryCacheLookup(model: string, hit: boolean): void {
    this.queryCacheLookups.inc({ model, result: hit ? 'hit' : 'miss' })
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: FunnelMetrics
  }
}

/** The error code of a catalogue error body, or 'unknown' for anything else. */
function errorCode(payload: unknown): string {
  if (typeof payload !== 'string' || !payload.startsWith('{')) return 'unknown'
  try {
    const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code
    return typeof code === 'string' ? code : 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * Decorates `app.metrics` and records every response: latency by route pattern (never the raw URL,
 * which would explode cardinality; unmatched URLs share one label) and error codes.
 */
export default fp(
  async (app) => {
    const collectionStats = async (): Promise<CollectionStats[]> => {
      if (!app.hasDecorator('collections')) return []
      // Only collections with an open index: one still opening at boot would hold the scrape until it is.
      const stats = await app.collections.stats()
      return stats.map((s) => ({ name: s.name, documents: s.count, indexVectors: s.index_vectors, deletedVectors: s.deleted_slots, sizeOnDiskBytes: s.size_on_disk_bytes, rescoreMemoryBytes: s.rescore_memory_bytes ?? 0 }))
    }
    // A collection dropped mid-scrape must not fail the whole scrape: its gauges skip one round.
    const metrics = new FunnelMetrics(() =>
      collectionStats().catch((error: unknown) => {
        app.log.warn({ err: error }, 'collection metrics skipped this scrape')
        return []
      }),
    )
    app.decorate('metrics', metrics)
    app.addHook('onSend', async (_request, reply, payload) => {
      if (reply.statusCode >= 400) metrics.countError(errorCode(payload), reply.statusCode)
      return payload
    })
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    })
    app.addHook('onClose', async () => metrics.registry.clear())
  },
  { name: 'funnel-metrics' },
)
