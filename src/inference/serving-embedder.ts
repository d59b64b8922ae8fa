import type { EmbeddingBatch, EmbeddingModel, InputKind, Pooling } from './embedding-model.js'
import { MicroBatcher, type BatchInfo, type EmbedFunction } from './micro-batcher.js'
import { QueryEmbeddingCache } from './query-cache.js'

export interface ServingEmbedderOptions {
  /** Merge concurrent small embed calls into one ONNX run (default true). */
  microBatch?: boolean
  /** Texts per merged run; callers with more texts bypass the queue (default 32). */
  maxBatchTexts?: number
  /** Query embeddings kept in an LRU cache; 0 disables it (default 1024). */
  queryCacheSize?: number
  onBatch?: (info: BatchInfo) => void
  onCacheLookup?: (hit: boolean) => void
}

/**
 * An embedding model as the server uses it: concurrent small calls (one query per search) are merged
 * into one run by a micro-batcher, and query embeddings are answered from an LRU cache when the same
 * query text comes again. Documents are never cached (each is embedded once, at upsert).
 *
 * The merged runs rely on `EmbeddingModel.embed` cutting batches by padding: without those cuts a
 * merged batch pads to its longest query and costs more than the calls it replaced
 * (docs/benchmarks/embedding-throughput.md §4).
 *
 * @example
 *   const embedder = new ServingEmbedder(await EmbeddingModel.load(dir, { id: 'minilm' }))
 *   const { vectors } = await embedder.embed(['solar power'], 'query')
 *   await embedder.close() // drains the batcher, then releases the ONNX session
 */
export class ServingEmbedder {
  private readonly batcher: MicroBatcher | undefined
  private readonly cache: QueryEmbeddingCache
  private readonly embedBatched: EmbedFunction
  private readonly embedQueries: EmbedFunction

  constructor(
    readonly model: EmbeddingModel,
    options: ServingEmbedderOptions = {},
  ) {
    const direct: EmbedFunction = (texts, kind) => model.embed(texts, kind)
    this.batcher =
      options.microBatch === false
        ? undefined
        : new MicroBatcher(direct, {
            maxBatchTexts: options.maxBatchTexts ?? 32,
            ...(options.onBatch !== undefined && { onBatch: options.onBatch }),
          })
    this.embedBatched = this.batcher?.embed ?? direct
    this.cache = new QueryEmbeddingCache({
      maxEntries: options.queryCacheSize ?? 1024,
      ...(options.onCacheLookup !== undefined && { onLookup: options.onCacheLookup }),
    })
    this.embedQueries = this.cache.wrap(model.id, this.embedBatched)
  }

  get id(): string {
    return this.model.id
  }

  get dims(): number {
    return this.model.dims
  }

  get maxLength(): number {
    return this.model.maxLength
  }

  get pooling(): Pooling {
    return this.model.pooling
  }

  get matryoshkaDims(): readonly number[] {
    return this.model.matryoshkaDims
  }

  /** Same contract as `EmbeddingModel.embed`: vectors come back in input order. */
  embed(texts: readonly string[], kind: InputKind = 'document'): Promise<EmbeddingBatch> {
    return kind === 'query' ? this.embedQueries(texts, kind) : this.embedBatched(texts, kind)
  }

  stats(): { batches: number; callers: number; texts: number; cacheHits: number; cacheMisses: number; cacheEntries: number } {
    const batcher = this.batcher?.stats() ?? { batches: 0, callers: 0, texts: 0 }
    const cache = this.cache.stats()
    return { batches: batcher.batches, callers: batcher.callers, texts: batcher.texts, cacheHits: cache.hits, cacheMisses: cache.misses, cacheEntries: cache.entries }
  }

  /** Finishes queued and running calls, then releases the model's session. */
  async close(): Promise<void> {
    try {
      await this.batcher?.close()
    } finally {
      this.cache.clear()
      await this.model.dispose()
    }
  }
}
