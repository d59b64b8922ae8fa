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

/** Bytes one vector of `dims` takes in `encoding` (int8 adds its float32 scale). */
export function bytesPerVector(encoding: CompactEncoding, dims: number): number {
  return encoding === 'float32' ? dims * 4 : encoding === 'float16' ? dims * 2 : dims + 4
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

/** Sum of squares of the first `dims` components of the query, computed once per rescoring. */
export function squaredNorm(query: Float32Array, dims: number): number {
  let sum = 0
  for (let i = 0; i < dims; i++) sum += query[i]! * query[i]!
  return sum
}

/*
 * Cosine of `query` with the row at `offset`, over the first `dims` components, given the query's
 * squaredNorm at those dims. The float32 variant adds in the same order as cosineAtDims, so it returns
 * the very same number.
 */

export function cosineFloat32(query: Float32Array, queryNorm2: number, rows: Float32Array, offset: number, dims: number): number {
  let ab = 0
  let bb = 0
  for (let i = 0; i < dims; i++) {
    const b = rows[offset + i]!
    ab += query[i]! * b
    bb += b * b
  }
  return queryNorm2 === 0 || bb === 0 ? 0 : ab / Math.sqrt(queryNorm2 * bb)
}

export function cosineFloat16(query: Float32Array, queryNorm2: number, rows: Uint16Array, offset: number, dims: number): number {
  const table = halfToFloatTable()
  let ab = 0
  let bb = 0
  for (let i = 0; i < dims; i++) {
    const b = table[rows[offset + i]!]!
    ab += query[i]! * b
    bb += b * b
  }
  return queryNorm2 === 0 || bb === 0 ? 0 : ab / Math.sqrt(queryNorm2 * bb)
}

export function cosineInt8(query: Float32Array, queryNorm2: number, rows: Int8Array, offset: number, dims: number): number {
  let ab = 0
  let bb = 0
  for (let i = 0; i < dims; i++) {
    const b = rows[offset + i]!
    ab += query[i]! * b
    bb += b * b
  }
  return queryNorm2 === 0 || bb === 0 ? 0 : ab / Math.sqrt(queryNorm2 * bb)
}

/** Dot product of `query` with the dequantised int8 row (codes × scale) over `dims` components. */
export function dotInt8(query: Float32Array, rows: Int8Array, offset: number, dims: number, scale: number): number {
  let sum = 0
  for (let i = 0; i < dims; i++) sum += query[i]! * rows[offset + i]!
  return sum * scale
}

export function dotFloat16(query: Float32Array, rows: Uint16Array, offset: number, dims: number): number {
  const table = halfToFloatTable()
  let sum = 0
  for (let i = 0; i < dims; i++) sum += query[i]! * table[rows[offset + i]!]!
  return sum
}
