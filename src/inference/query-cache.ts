import type { EmbeddingBatch, InputKind } from './embedding-model.js'
import type { EmbedFunction } from './micro-batcher.js'

export interface QueryCacheOptions {
  /** Entries kept; the least recently used goes first. */
  maxEntries: number
  /**
   * Texts longer than this (in UTF-16 code units) are never cached: the cache is bounded by entries,
   * so one huge key must not be able to pin megabytes. Default 2048.
   */
  maxTextLength?: number
  /** Called on every lookup with whether it hit (metrics). */
  onLookup?: (hit: boolean) => void
}

export interface CachedEmbedding {
  vector: Float32Array
  tokenCount: number
  truncated: boolean
}

export interface QueryCacheStats {
  entries: number
  hits: number
  misses: number
}

/**
 * A least-recently-used cache of embeddings keyed by (model id, input kind, text), bounded by entry
 * count. Repeated queries (pagination, retries, dashboards re-running a search) skip the model.
 * Vectors are copied in and out, so a caller that mutates its vector cannot corrupt the cache.
 *
 * @example
 *   const cache = new QueryEmbeddingCache({ maxEntries: 1024 })
 *   const embed = cache.wrap(model.id, (texts, kind) => model.embed(texts, kind))
 *   const { vectors } = await embed(['solar power'], 'query') // second call is a cache hit
 */
export class QueryEmbeddingCache {
  // A Map iterates in insertion order; re-inserting on every hit keeps the oldest-used entry first.
  private readonly entries = new Map<string, CachedEmbedding>()
  private readonly maxEntries: number
  private readonly maxTextLength: number
  private hits = 0
  private misses = 0
  private readonly onLookup: ((hit: boolean) => void) | undefined

  constructor(options: QueryCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) {
      throw new RangeError(`query cache maxEntries: ${options.maxEntries} is not allowed; use an integer >= 0 (0 disables the cache)`)
    }
    this.maxEntries = options.maxEntries
    this.maxTextLength = options.maxTextLength ?? 2048
    this.onLookup = options.onLookup
  }

  get(modelId: string, kind: InputKind, text: string): CachedEmbedding | undefined {
    const key = cacheKey(modelId, kind, text)
    const found = this.entries.get(key)
    this.onLookup?.(found !== undefined)
    if (found === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    this.entries.delete(key)
    this.entries.set(key, found)
    return copyEntry(found)
  }

  set(modelId: string, kind: InputKind, text: string, entry: CachedEmbedding): void {
    if (this.maxEntries === 0 || text.length > this.maxTextLength) return
    const key = cacheKey(modelId, kind, text)
    this.entries.delete(key)
    this.entries.set(key, copyEntry(entry))
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }

  /** Drops every entry of one model, e.g. when it is reloaded from different files. */
  deleteModel(modelId: string): void {
    const prefix = `${modelId}\u0000`
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }

  stats(): QueryCacheStats {
    return { entries: this.entries.size, hits: this.hits, misses: this.misses }
  }

  /**
   * An embed function with the same contract as `embed` that answers cached texts from the cache and
   * sends only the misses (each distinct text once) to `embed`.
   */
  wrap(modelId: string, embed: EmbedFunction): EmbedFunction {
    return async (texts, kind = 'document') => {
      const found = texts.map((text) => this.get(modelId, kind, text))
      const missing = [...new Set(texts.filter((_, i) => found[i] === undefined))]
      if (missing.length > 0) {
        const fresh = await embed(missing, kind)
        const byText = new Map<string, CachedEmbedding>()
        missing.forEach((text, i) => {
          const entry = { vector: fresh.vectors[i]!, tokenCount: fresh.tokenCounts[i]!, truncated: fresh.truncated[i]! }
          byText.set(text, entry)
          this.set(modelId, kind, text, entry)
        })
        texts.forEach((text, i) => (found[i] ??= copyEntry(byText.get(text)!)))
      }
      return toBatch(found as CachedEmbedding[])
    }
  }
}

const cacheKey = (modelId: string, kind: InputKind, text: string): string => `${modelId}\u0000${kind}\u0000${text}`

const copyEntry = (entry: CachedEmbedding): CachedEmbedding => ({ ...entry, vector: Float32Array.from(entry.vector) })

const toBatch = (entries: readonly CachedEmbedding[]): EmbeddingBatch => ({
  vectors: entries.map((e) => e.vector),
  tokenCounts: entries.map((e) => e.tokenCount),
  truncated: entries.map((e) => e.truncated),
})
