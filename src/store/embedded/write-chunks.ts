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
