/**
 * Compact encodings of full-dimension vectors for in-memory rescoring, and cosine/dot products of a
 * float32 query against an encoded row read in place (no Float32Array is materialised per row).
 *
 * - `float32`: the stored vector as is (exactly the scores of reading it from SQLite).
 * - `float16`: IEEE 754 half, round to nearest even; decoded through a 65,536-entry table.
 * - `int8`: q = round(v / s) with one float32 scale per vector, s = max|v| / 127. Cosine does not need
 *   the scale (it cancels); dot products do.
 *
 * docs/benchmarks/matryoshka.md measured what each costs in nDCG@10 (float16: nothing; int8: at most
 * 0.0015).
 */

export const COMPACT_ENCODINGS = ['float32', 'float16', 'int8'] as const
export type CompactEncoding = (typeof COMPACT_ENCODINGS)[number]

/** Bytes one vector of `dims` takes in `encoding`, with its float64 squared norm (int8 adds its float32 scale). */
export function bytesPerVector(encoding: CompactEncoding, dims: number): number {
  return (encoding === 'float32' ? dims * 4 : encoding === 'float16' ? dims * 2 : dims + 4) + 8
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** float32 -> IEEE 754 half bits, round to nearest even (subnormals kept, overflow to infinity). */
export function toHalf(value: number): number {
  f32[0] = value
  const x = u32[0]!
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    let m = mant >>> shift
    const rest = mant & ((1 << shift) - 1)
    if (rest > half || (rest === half && (m & 1) === 1)) m++
    return sign | m
  }
  let m = mant >>> 13
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m++
    if (m === 0x400) {
      m = 0
      e++
      if (e >= 0x1f) return sign | 0x7c00
    }
  }
  return sign | (e << 10) | m
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const e = (h >>> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return sign * m * 2 ** -24
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN
  return sign * (1 + m / 1024) * 2 ** (e - 15)
}

let halfTable: Float32Array | undefined

/** Every half value decoded once (256 KB): a table load is cheaper than decoding bits per component. */
export function halfToFloatTable(): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536)
    for (let h = 0; h < 65536; h++) halfTable[h] = fromHalf(h)
  }
  return halfTable
}

/** Writes `vector` as half bits into `out` at `offset`. */
export function encodeHalf(vector: Float32Array, out: Uint16Array, offset: number): void {
  for (let i = 0; i < vector.length; i++) out[offset + i] = toHalf(vector[i]!)
}

/** Writes `vector` as int8 codes into `out` at `offset`; returns the scale that decodes them. */
export function encodeInt8(vector: Float32Array, out: Int8Array, offset: number): number {
  let max = 0
  for (let i = 0; i < vector.length; i++) max = Math.max(max, Math.abs(vector[i]!))
  const scale = max / 127 || 1
  for (let i = 0; i < vector.length; i++) out[offset + i] = Math.round(vector[i]! / scale)
  return scale
}

/*
 * Dot products of a float32 query with an encoded row read in place, over the first `dims` components.
 * Four running sums (as dotAt) so the additions do not wait on each other. Cosine is the dot product
 * over the product of norms; RescoreVectors keeps each row's full-dimension norm, so rescoring costs
 * one pass over the row, not two.
 */

/** Dot product with the row's half values decoded through the table. */
export function dotFloat16(query: Float32Array, rows: Uint16Array, offset: number, dims: number): number {
  const table = halfToFloatTable()
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  const end = dims - (dims % 4)
  let i = 0
  for (; i < end; i += 4) {
    s0 += query[i]! * table[rows[offset + i]!]!
    s1 += query[i + 1]! * table[rows[offset + i + 1]!]!
    s2 += query[i + 2]! * table[rows[offset + i + 2]!]!
    s3 += query[i + 3]! * table[rows[offset + i + 3]!]!
  }
  for (; i < dims; i++) s0 += query[i]! * table[rows[offset + i]!]!
  return s0 + s1 + (s2 + s3)
}

/** Sum of squares of the row's decoded half values. */
export function squaredNormFloat16(rows: Uint16Array, offset: number, dims: number): number {
  const table = halfToFloatTable()
  let sum = 0
  for (let i = 0; i < dims; i++) {
    const b = table[rows[offset + i]!]!
    sum += b * b
  }
  return sum
}

/** Dot product with the row's int8 codes (not multiplied by the scale: cosine does not need it). */
export function dotInt8Codes(query: Float32Array, rows: Int8Array, offset: number, dims: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  const end = dims - (dims % 4)
  let i = 0
  for (; i < end; i += 4) {
    s0 += query[i]! * rows[offset + i]!
    s1 += query[i + 1]! * rows[offset + i + 1]!
    s2 += query[i + 2]! * rows[offset + i + 2]!
    s3 += query[i + 3]! * rows[offset + i + 3]!
  }
  for (; i < dims; i++) s0 += query[i]! * rows[offset + i]!
  return s0 + s1 + (s2 + s3)
}

/** Sum of squares of the row's int8 codes. */
export function squaredNormInt8(rows: Int8Array, offset: number, dims: number): number {
  let sum = 0
  for (let i = 0; i < dims; i++) sum += rows[offset + i]! * rows[offset + i]!
  return sum
}

/** Dot product of `query` with the dequantised int8 row (codes × scale) over `dims` components. */
export function dotInt8(query: Float32Array, rows: Int8Array, offset: number, dims: number, scale: number): number {
  return dotInt8Codes(query, rows, offset, dims) * scale
}
