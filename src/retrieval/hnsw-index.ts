import type { HierarchicalNSW } from 'hnswlib-node'
import { createHash } from 'node:crypto'
import { createReadStream, mkdirSync } from 'node:fs'
import { open, readFile, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { hnswlib, type PoolSearch } from './hnswlib-binding.js'
import { truncateAndNormalize } from './vector-math.js'

export interface HnswSettings {
  dims: number
  m: number
  efConstruction: number
  efSearch: number
}

/** What the sidecar file records about a saved index, so a stale or damaged file is never trusted. */
interface IndexMeta {
  version: 1
  seq: number
  dims: number
  m: number
  efConstruction: number
  bytes: number
  sha256: string
}

export interface Neighbour {
  label: number
  /** Inner product at the index dims (vectors are unit length, so this is the cosine). */
  similarity: number
}

const INITIAL_CAPACITY = 1024

const toNeighbours = (result: { neighbors: number[]; distances: number[] }): Neighbour[] =>
  result.neighbors.map((label, i) => ({ label, similarity: 1 - result.distances[i]! }))

/**
 * SHA-256 of a file, read in 1 MiB chunks: an index past 2 GiB (700,000 vectors of 768 dims) is
 * larger than one readFile can return, and a chunk at a time keeps the event loop turning.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function writeFileDurably(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp`
  const handle = await open(tmp, 'w')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, file)
}

/**
 * An hnswlib index over the first `dims` components of each vector (renormalised): the coarse stage of
 * the Matryoshka funnel. Labels are the store's document labels. Persisted as `<base>.hnsw` plus a
 * `<base>.meta.json` sidecar holding the write sequence it reflects and the file's sha256, so a
 * truncated or half-written file is detected before hnswlib reads it.
 *
 * @example
 *   const index = DenseIndex.create(settings)
 *   index.upsert(7, fullVector)
 *   index.search(queryVector, 10) // [{ label: 7, similarity: 0.93 }]
 */
export class DenseIndex {
  /** Write sequence of the store that the in-memory index reflects. */
  seq = 0
  private dirty = false
  private live = 0
  /** Set while `save` serialises the graph on a libuv worker thread; mutations wait for it. */
  private writing: Promise<void> | undefined

  private constructor(
    private readonly inner: HierarchicalNSW,
    readonly settings: HnswSettings,
  ) {}

  static create(settings: HnswSettings, capacity = INITIAL_CAPACITY): DenseIndex {
    const inner = new hnswlib.binding.HierarchicalNSW('ip', settings.dims)
    // allowReplaceDeleted: a new label takes the slot of a deleted one, so memory and file track the
    // live documents rather than every document ever inserted.
    inner.initIndex({ maxElements: Math.max(capacity, 16), m: settings.m, efConstruction: settings.efConstruction, randomSeed: 100, allowReplaceDeleted: true })
    return new DenseIndex(inner, settings)
  }

  /**
   * Loads a saved index if its sidecar matches the file byte-for-byte and the settings; returns
   * undefined (never throws) when the caller should rebuild instead, with the reason.
   */
  static async load(base: string, settings: HnswSettings): Promise<{ index?: DenseIndex; reason: string }> {
    let meta: IndexMeta
    try {
      meta = JSON.parse(await readFile(`${base}.meta.json`, 'utf8')) as IndexMeta
    } catch {
      return { reason: 'no saved index' }
    }
    if (meta.dims !== settings.dims || meta.m !== settings.m) return { reason: 'saved index has other settings' }
    const file = `${base}.hnsw`
    const info = await stat(file).catch(() => undefined)
    if (info === undefined || info.size !== meta.bytes) return { reason: 'saved index file missing or truncated' }
    if ((await sha256File(file)) !== meta.sha256) return { reason: 'saved index checksum mismatch' }
    const inner = new hnswlib.binding.HierarchicalNSW('ip', settings.dims)
    try {
      await inner.readIndex(file, true)
    } catch (error) {
      // A file that matches its sidecar can still be short: hnswlib does not report ENOSPC on write.
      return { reason: `saved index unreadable (${(error as Error).message})` }
    }
    const index = new DenseIndex(inner, settings)
    index.seq = meta.seq
    // getIdsList also lists points marked deleted (their slots wait for reuse); only live ones count.
    index.live = inner.getIdsList().filter((label) => index.has(label)).length
    return { index, reason: 'loaded' }
  }

  get size(): number {
    return this.live
  }

  /** Slots held by deleted points that no insert has reused yet (they still cost memory and file size). */
  get deletedSlots(): number {
    return this.inner.getCurrentCount() - this.live
  }

  get isDirty(): boolean {
    return this.dirty
  }

  /**
   * Undefined when the index may be mutated now; else a promise that settles when the save in progress
   * has finished reading the graph. Searches may run meanwhile; `upsert` and `remove` may not (hnswlib
   * does not guard its graph against a writer while another thread serialises it), so callers await
   * this first, in the same tick as the mutation.
   */
  whenWritable(): Promise<void> | undefined {
    return this.writing
  }

  private assertWritable(): void {
    if (this.writing !== undefined) throw new Error('the index is being saved: await whenWritable() before mutating it')
  }

  upsert(label: number, fullVector: Float32Array): void {
    this.assertWritable()
    const point = Array.from(truncateAndNormalize(fullVector, this.settings.dims))
    if (this.has(label)) {
      this.inner.addPoint(point, label)
    } else if (this.undelete(label)) {
      // The label's own slot was marked deleted: revive it in place. Replacing another slot would
      // leave two slots naming this label.
      this.inner.addPoint(point, label)
      this.live++
    } else if (this.deletedSlots > 0) {
      this.inner.addPoint(point, label, true)
      this.live++
    } else {
      if (this.inner.getCurrentCount() >= this.inner.getMaxElements()) this.inner.resizeIndex(this.inner.getMaxElements() * 2)
      this.inner.addPoint(point, label)
      this.live++
    }
    this.dirty = true
  }

  /** Clears the deleted mark of `label` if it has a slot; false when it has none. */
  private undelete(label: number): boolean {
    try {
      this.inner.unmarkDelete(label)
      return true
    } catch {
      return false
    }
  }

  remove(label: number): void {
    this.assertWritable()
    if (!this.has(label)) return
    this.inner.markDelete(label)
    this.live--
    this.dirty = true
  }

  /** Whether `label` is a live (not deleted) point. */
  has(label: number): boolean {
    try {
      this.inner.getPoint(label)
      return true
    } catch {
      return false
    }
  }

  /**
   * Nearest neighbours by inner product at the index dims; `allowed` restricts the labels considered.
   * hnswlib walks with ef = max(walk width, k) and answers the best k of the walk's final list; the
   * walk width is `walk.ef` when given, else the index's efSearch. When `walk.ef` is below k and the
   * addon has the candidate pool (no `allowed`; see `pools`), the walk keeps its width and the answer
   * is the best k of every node it scored, sorted by similarity; it may then hold fewer than k.
   */
  search(fullQuery: Float32Array, k: number, allowed?: ReadonlySet<number>, walk?: { ef: number }): Neighbour[] {
    if (this.live === 0 || k <= 0) return []
    const query = Array.from(truncateAndNormalize(fullQuery, this.settings.dims))
    const want = Math.min(k, this.live)
    if (this.pools(want, allowed, walk)) {
      const inner = this.inner as HierarchicalNSW & PoolSearch
      inner.setEf(walk!.ef)
      inner.setCandidatePool(true)
      try {
        return toNeighbours(inner.searchKnn(query, want))
      } finally {
        inner.setCandidatePool(false)
      }
    }
    this.inner.setEf(Math.max(walk?.ef ?? this.settings.efSearch, want))
    const result =
      allowed === undefined
        ? this.inner.searchKnn(query, want)
        : this.inner.searchKnn(query, Math.min(want, allowed.size), (label) => allowed.has(label))
    return toNeighbours(result)
  }

  /** Whether `search` with these arguments takes its answer from the candidate pool. */
  pools(k: number, allowed: ReadonlySet<number> | undefined, walk: { ef: number } | undefined): boolean {
    return walk !== undefined && walk.ef < Math.min(k, this.live) && allowed === undefined && hnswlib.candidatePool
  }

  /**
   * Writes the index and its sidecar atomically (temp file, fsync, rename). The graph is serialised on
   * a libuv worker thread, so searches keep being served (a 3 GB index took seconds of event loop
   * synchronously); `upsert` and `remove` wait for it through `whenWritable`. Saves must not overlap
   * (the caller chains them).
   */
  async save(base: string): Promise<void> {
    mkdirSync(path.dirname(base), { recursive: true })
    if (this.writing !== undefined) throw new Error('a save of this index is already running')
    const seq = this.seq
    const file = `${base}.hnsw`
    const tmp = `${file}.tmp`
    const written = this.inner.writeIndex(tmp)
    this.writing = written.then(
      () => undefined,
      () => undefined,
    )
    try {
      await written
    } finally {
      this.writing = undefined
    }
    const handle = await open(tmp, 'r+')
    await handle.sync()
    await handle.close()
    const bytes = (await stat(tmp)).size
    // hnswlib writes silently short files on a full disk; the vectors alone need count × dims × 4 bytes.
    const minimum = this.inner.getCurrentCount() * this.settings.dims * 4
    if (bytes < minimum) {
      await rm(tmp, { force: true })
      throw new Error(`index file came out short (${bytes} bytes, at least ${minimum} expected): disk full?`)
    }
    const sha256 = await sha256File(tmp)
    // The meta must never describe a file that is not there: drop it first, rename, then write it.
    await rm(`${base}.meta.json`, { force: true })
    await rename(tmp, file)
    const meta: IndexMeta = { version: 1, seq, dims: this.settings.dims, m: this.settings.m, efConstruction: this.settings.efConstruction, bytes, sha256 }
    await writeFileDurably(`${base}.meta.json`, JSON.stringify(meta))
    if (this.seq === seq) this.dirty = false
  }

  static async removeFiles(base: string): Promise<void> {
    await Promise.all(['.hnsw', '.hnsw.tmp', '.meta.json', '.meta.json.tmp'].map((ext) => rm(base + ext, { force: true })))
  }
}

