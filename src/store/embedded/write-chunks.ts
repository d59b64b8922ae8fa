/** Documents per write chunk at most (SQLite rows, FTS terms and HNSW inserts applied together). */
export const CHUNK_MAX_DOCUMENTS = 8
/** Characters of text per write chunk at most, unless one document alone is longer. */
export const CHUNK_MAX_CHARS = 12_000

/**
 * The end (exclusive) of the write chunk that starts at `start`: up to 8 documents and 12,000
 * characters, and always at least one document. A transaction applies whole chunks until it has used
 * its time slice, so the chunk is the smallest synchronous step of a write: 8 documents of 10 KB
 * (their FTS terms and document-frequency rows) took several times the slice; at 24,000 characters
 * a transaction of a 1,000 x 10 KB batch still reached 60-80 ms with its commit, at 12,000 46 ms.
 */
export function chunkEnd(docs: readonly { text: string }[], start: number): number {
  let end = start
  let chars = 0
  while (end < docs.length && end - start < CHUNK_MAX_DOCUMENTS) {
    chars += docs[end]!.text.length
    if (end > start && chars > CHUNK_MAX_CHARS) break
    end++
  }
  return end
}

/**
 * The time budget of one write transaction. A chunk is started only if one as long as the longest so
 * far still fits, so a transaction ends near its budget instead of up to a whole chunk past it: a
 * 10 KB document's chunk took 7-21 ms here, and starting one at 9 ms of a 10 ms slice made 30-40 ms
 * transactions. The first chunk of a transaction always starts (every transaction makes progress).
 *
 * @example
 *   const slice = new WriteSlice(10)
 *   slice.begin()
 *   while (more() && slice.canStartChunk()) { slice.chunkStarted(); writeChunk(); slice.chunkEnded() }
 */
export class WriteSlice {
  private beganAt = 0
  private chunkAt = 0
  private chunks = 0
  /** The longest chunk seen by this slice object (kept across transactions of one write). */
  longestChunkMs = 0

  constructor(
    readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts a transaction's budget. */
  begin(): void {
    this.beganAt = this.now()
    this.chunks = 0
  }

  canStartChunk(): boolean {
    return this.chunks === 0 || this.now() - this.beganAt + this.longestChunkMs < this.budgetMs
  }

  chunkStarted(): void {
    this.chunkAt = this.now()
  }

  chunkEnded(): void {
    this.chunks++
    this.longestChunkMs = Math.max(this.longestChunkMs, this.now() - this.chunkAt)
  }
}
