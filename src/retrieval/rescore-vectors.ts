import {
  bytesPerVector,
  cosineFloat16,
  cosineFloat32,
  cosineInt8,
  dotFloat16,
  dotInt8,
  encodeHalf,
  encodeInt8,
  halfToFloatTable,
  squaredNorm,
  type CompactEncoding,
} from './compact-vectors.js'
import { rankScored, type ScoredLabel } from './rescore.js'

const INITIAL_CAPACITY = 1024

type Rows = Float32Array | Uint16Array | Int8Array

function allocateRows(encoding: CompactEncoding, length: number): Rows {
  return encoding === 'float32' ? new Float32Array(length) : encoding === 'float16' ? new Uint16Array(length) : new Int8Array(length)
}

/**
 * A collection's full-dimension vectors held in memory for the rescoring half of the Matryoshka funnel,
 * so a shortlist is scored without a SQLite read per candidate. Rows sit in one contiguous typed array
 * (float32, float16 bits or int8 codes); a map takes a document label to its row, and the row of a
 * removed label is reused by the next new one. Grows by doubling; never shrinks (like the HNSW index).
 *
 * @example
 *   const rows = new RescoreVectors('int8', 384)
 *   rows.set(7, fullVector)
 *   rows.rescore(query, [7, 9], 384, 10) // [{ label: 7, score: 0.93 }] (9 is not held)
 */
export class RescoreVectors {
  private rows: Rows
  /** int8 only: the scale that decodes each row. */
  private scales: Float32Array
  private readonly rowOf = new Map<number, number>()
  private readonly freeRows: number[] = []
  private used = 0
  private capacity: number

  constructor(
    readonly encoding: CompactEncoding,
    readonly dims: number,
    capacity = INITIAL_CAPACITY,
  ) {
    this.capacity = Math.max(capacity, 16)
    this.rows = allocateRows(encoding, this.capacity * dims)
    this.scales = new Float32Array(encoding === 'int8' ? this.capacity : 0)
  }

  /** Vectors held. */
  get size(): number {
    return this.rowOf.size
  }

  /** Bytes allocated for rows (and int8 scales), including rows not yet used. */
  get bytes(): number {
    return this.capacity * bytesPerVector(this.encoding, this.dims)
  }

  has(label: number): boolean {
    return this.rowOf.has(label)
  }

  /** Stores (or replaces) the vector of `label`. */
  set(label: number, vector: Float32Array): void {
    if (vector.length !== this.dims) throw new Error(`rescore vector for label ${label} has ${vector.length} dims, expected ${this.dims}`)
    let row = this.rowOf.get(label)
    if (row === undefined) {
      row = this.freeRows.pop() ?? this.nextRow()
      this.rowOf.set(label, row)
    }
    const offset = row * this.dims
    if (this.rows instanceof Float32Array) this.rows.set(vector, offset)
    else if (this.rows instanceof Uint16Array) encodeHalf(vector, this.rows, offset)
    else this.scales[row] = encodeInt8(vector, this.rows, offset)
  }

  delete(label: number): void {
    const row = this.rowOf.get(label)
    if (row === undefined) return
    this.rowOf.delete(label)
    this.freeRows.push(row)
  }

  /** The vector of `label` as stored, decoded to float32 (for checks; rescoring never decodes). */
  decode(label: number): Float32Array | undefined {
    const row = this.rowOf.get(label)
    if (row === undefined) return undefined
    const offset = row * this.dims
    const out = new Float32Array(this.dims)
    if (this.rows instanceof Float32Array) out.set(this.rows.subarray(offset, offset + this.dims))
    else if (this.rows instanceof Uint16Array) {
      const table = halfToFloatTable()
      for (let i = 0; i < this.dims; i++) out[i] = table[this.rows[offset + i]!]!
    } else {
      for (let i = 0; i < this.dims; i++) out[i] = this.rows[offset + i]! * this.scales[row]!
    }
    return out
  }

  /** Dot product of `query` with the decoded vector of `label` at full dims; undefined when not held. */
  dot(query: Float32Array, label: number): number | undefined {
    const row = this.rowOf.get(label)
    if (row === undefined) return undefined
    const offset = row * this.dims
    const rows = this.rows
    if (rows instanceof Uint16Array) return dotFloat16(query, rows, offset, this.dims)
    if (rows instanceof Int8Array) return dotInt8(query, rows, offset, this.dims, this.scales[row]!)
    let sum = 0
    for (let i = 0; i < this.dims; i++) sum += query[i]! * rows[offset + i]!
    return sum
  }

  /**
   * Exact cosine at `dims` between `query` and each held label of `labels`, scored on the encoded rows
   * in place; the best `limit`, best first (ties by label), like rescoreAtFullDims. Labels not held
   * are skipped.
   */
  rescore(query: Float32Array, labels: Iterable<number>, dims: number, limit: number): ScoredLabel[] {
    const d = Math.min(dims, this.dims)
    const queryNorm2 = squaredNorm(query, d)
    const scored: ScoredLabel[] = []
    const rows = this.rows
    for (const label of labels) {
      const row = this.rowOf.get(label)
      if (row === undefined) continue
      const offset = row * this.dims
      const score =
        rows instanceof Float32Array
          ? cosineFloat32(query, queryNorm2, rows, offset, d)
          : rows instanceof Uint16Array
            ? cosineFloat16(query, queryNorm2, rows, offset, d)
            : cosineInt8(query, queryNorm2, rows, offset, d)
      scored.push({ label, score })
    }
    return rankScored(scored, limit)
  }

  private nextRow(): number {
    if (this.used === this.capacity) this.grow()
    return this.used++
  }

  private grow(): void {
    this.capacity *= 2
    const rows = allocateRows(this.encoding, this.capacity * this.dims)
    rows.set(this.rows)
    this.rows = rows
    if (this.encoding === 'int8') {
      const scales = new Float32Array(this.capacity)
      scales.set(this.scales)
      this.scales = scales
    }
  }
}
