import { createHash } from 'node:crypto'

export interface PassageVectorCacheStats {
  entries: number
  hits: number
  misses: number
}

/**
 * A least-recently-used cache of passage vectors keyed by (model id, sha256 of the text), bounded by
 * entry count. An embedding rerank stage sees the same passages again whenever queries share
 * candidates (pagination, retries, a popular document), and the passage side is where its cost is.
 * Hashing the text keeps the key small whatever the passage length.
 *
 * @example
 *   const cache = new PassageVectorCache({ maxEntries: 10_000 })
 *   const vectors = await cache.embedAll('BAAI/bge-small-en-v1.5', passages, (missing) => embed(missing))
 */
export class PassageVectorCache {
  // A Map iterates in insertion order; re-inserting on every hit keeps the oldest-used entry first.
  private readonly entries = new Map<string, Float32Array>()
  private hits = 0
  private misses = 0

  constructor(private readonly options: { maxEntries: number }) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) {
      throw new RangeError(`passage cache maxEntries: ${options.maxEntries} is not allowed; use an integer >= 0 (0 disables the cache)`)
    }
  }

  /**
   * Vectors for `texts` in input order: cached ones from the cache, the rest (each distinct text
   * once) from one call of `embed`, which must return one vector per text it is given, in order.
   */
  async embedAll(modelId: string, texts: readonly string[], embed: (missing: string[]) => Promise<Float32Array[]>): Promise<Float32Array[]> {
    const keys = texts.map((text) => keyOf(modelId, text))
    const found = keys.map((key) => this.lookup(key))
    const missingByKey = new Map<string, string>()
    keys.forEach((key, i) => {
      if (found[i] === undefined) missingByKey.set(key, texts[i]!)
    })
    if (missingByKey.size > 0) {
      const missingKeys = [...missingByKey.keys()]
      const vectors = await embed([...missingByKey.values()])
      if (vectors.length !== missingKeys.length) throw new Error(`embed returned ${vectors.length} vectors for ${missingKeys.length} texts`)
      const fresh = new Map(missingKeys.map((key, i) => [key, vectors[i]!]))
      for (const [key, vector] of fresh) this.store(key, vector)
      keys.forEach((key, i) => (found[i] ??= fresh.get(key)))
    }
    return found as Float32Array[]
  }

  stats(): PassageVectorCacheStats {
    return { entries: this.entries.size, hits: this.hits, misses: this.misses }
  }

  clear(): void {
    this.entries.clear()
  }

  private lookup(key: string): Float32Array | undefined {
    const vector = this.entries.get(key)
    if (vector === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    this.entries.delete(key)
    this.entries.set(key, vector)
    return vector
  }

  private store(key: string, vector: Float32Array): void {
    if (this.options.maxEntries === 0) return
    this.entries.delete(key)
    this.entries.set(key, vector)
    while (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }
}

const keyOf = (modelId: string, text: string): string => `${modelId}\u0000${createHash('sha256').update(text).digest('base64')}`
