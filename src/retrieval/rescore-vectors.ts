import {
  bytesPerVector,
  dotFloat16,
  dotInt8,
  encodeHalf,
  encodeInt8,
  halfToFloatTable,
  squaredNormFloat16,
  squaredNormInt8,
  type CompactEncoding,
} from './compact-vectors.js'
import { topScored, type ScoredLabel } from './rescore.js'
import { simdDot } from './simd-dot.js'
import { LabelRows } from './label-rows.js'
import { dotAt } from './vector-math.js'

const INITIAL_CAPACITY = 1024

type Rows = Float32Array | Uint16Array | Int8Array

function allocateRows(encoding: CompactEncoding, length: number): Rows {
  return encoding === 'float32' ? new Float32Array(length) : encoding === 'float16' ? new Uint16Array(length) : new Int8Array(length)
}

/**
 * A collection's full-dimension vectors held in memory for the rescoring half of the Matryoshka funnel,
 * so a shortlist is scored without a SQLite read per candidate. Rows sit in one contiguous typed array
 * (float32, float16 bits or int8 codes), with each row's squared norm at full dims (as stored), so
 * a cosine at full dims is one pass over the row; a hash table of typed arrays (LabelRows) takes a document label to its row, and the row
 * of a removed label is reused by the next new one. Grows by doubling; never shrinks (like the HNSW index).
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
  /** Each row's squared norm over all `dims`, of the values as stored (float64: float32 rows score exactly as cosineAtDims). */
  private norms2: Float64Array
  private readonly rowOf: LabelRows
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
    this.norms2 = new Float64Array(this.capacity)
    this.rowOf = new LabelRows(this.capacity)
  }

  /** Vectors held. */
  get size(): number {
    return this.rowOf.size
  }

  /** Bytes allocated for rows (with their norms, and int8 scales), including rows not yet used, and for the label table. */
  get bytes(): number {
    return this.capacity * bytesPerVector(this.encoding, this.dims) + this.rowOf.bytes
  }

  has(label: number): boolean {
    return this.rowOf.get(label) !== -1
  }

  /** Stores (or replaces) the vector of `label`. */
  set(label: number, vector: Float32Array): void {
    if (vector.length !== this.dims) throw new Error(`rescore vector for label ${label} has ${vector.length} dims, expected ${this.dims}`)
    let row = this.rowOf.get(label)
    if (row === -1) {
      row = this.freeRows.pop() ?? this.nextRow()
      this.rowOf.set(label, row)
    }
    const offset = row * this.dims
    const rows = this.rows
    if (rows instanceof Float32Array) {
      rows.set(vector, offset)
      this.norms2[row] = dotAt(rows, offset, rows, offset, this.dims)
    } else if (rows instanceof Uint16Array) {
      encodeHalf(vector, rows, offset)
      this.norms2[row] = squaredNormFloat16(rows, offset, this.dims)
    } else {
      this.scales[row] = encodeInt8(vector, rows, offset)
      this.norms2[row] = squaredNormInt8(rows, offset, this.dims)
    }
  }

  delete(label: number): void {
    const row = this.rowOf.delete(label)
    if (row !== -1) this.freeRows.push(row)
  }

  /** The vector of `label` as stored, decoded to float32 (for checks; rescoring never decodes). */
  decode(label: number): Float32Array | undefined {
    const row = this.rowOf.get(label)
    if (row === -1) return undefined
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
    if (row === -1) return undefined
    const offset = row * this.dims
    const rows = this.rows
    if (rows instanceof Uint16Array) return dotFloat16(query, rows, offset, this.dims)
    if (rows instanceof Int8Array) return dotInt8(query, rows, offset, this.dims, this.scales[row]!)
    return dotAt(query, 0, rows, offset, this.dims)
  }

  /**
   * Exact cosine at `dims` between `query` and each held label of `labels`, scored on the encoded rows
   * in place; the best `limit`, best first (ties by label), like rescoreAtFullDims. Labels not held
   * are skipped.
   */
  rescore(query: Float32Array, labels: Iterable<number>, dims: number, limit: number): ScoredLabel[] {
    const d = Math.min(dims, this.dims)
    const queryNorm2 = dotAt(query, 0, query, 0, d)
    const rows = this.rows
    // The labels held, their rows and offsets; labels not held are skipped.
    const held: number[] = []
    const heldRows: number[] = []
    const offsets: number[] = []
    for (const label of labels) {
      const row = this.rowOf.get(label)
      if (row === -1) continue
      held.push(label)
      heldRows.push(row)
      offsets.push(row * this.dims)
    }
    const scores = new Float64Array(held.length)
    // At full dims each row's stored norm is used. float32 keeps the scalar loop, whose sums equal
    // rescoring from SQLite exactly; float16 and int8 take the shortlist at once in WebAssembly SIMD.
    if (rows instanceof Float32Array) {
      for (let k = 0; k < held.length; k++) {
        const offset = offsets[k]!
        const rowNorm2 = d === this.dims ? this.norms2[heldRows[k]!]! : dotAt(rows, offset, rows, offset, d)
        scores[k] = cosine(dotAt(query, 0, rows, offset, d), queryNorm2, rowNorm2)
      }
    } else {
      const dots = new Float32Array(held.length)
      simdDot().score(query, d, rows, offsets, this.dims, dots)
      for (let k = 0; k < held.length; k++) {
        const rowNorm2 =
          d === this.dims ? this.norms2[heldRows[k]!]! : rows instanceof Uint16Array ? squaredNormFloat16(rows, offsets[k]!, d) : squaredNormInt8(rows, offsets[k]!, d)
        scores[k] = cosine(dots[k]!, queryNorm2, rowNorm2)
      }
    }
    // Result objects only for the `limit` kept.
    return topScored(held, scores, limit)
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
    const norms2 = new Float64Array(this.capacity)
    norms2.set(this.norms2)
    this.norms2 = norms2
    if (this.encoding === 'int8') {
      const scales = new Float32Array(this.capacity)
      scales.set(this.scales)
      this.scales = scales
    }
  }
}

function cosine(ab: number, aa: number, bb: number): number {
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb)
}
