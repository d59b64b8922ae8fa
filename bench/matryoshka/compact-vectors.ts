/**
 * Rescoring vectors kept in memory in a compact form, to measure what precision the funnel's exact
 * rescoring needs: fp16 (IEEE half, round to nearest even) or int8 with one fp32 scale per vector
 * (q = round(v / s), s = max|v| / 127). The query stays fp32; a score is the dot product with the
 * dequantised row.
 */
export interface CompactRows {
  kind: 'fp16' | 'int8'
  bytesPerVector: number
  dot(query: Float32Array, row: number): number
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

export function toFp16Rows(rows: readonly Float32Array[]): CompactRows {
  const dims = rows[0]?.length ?? 0
  // Kept as the decoded float32 values of the half bits: the scores are exactly those of fp16 storage
  // (a 2-byte store would decode to the same numbers); bytesPerVector reports the fp16 size.
  const data = new Float32Array(rows.length * dims)
  rows.forEach((r, i) => {
    for (let j = 0; j < dims; j++) data[i * dims + j] = fromHalf(toHalf(r[j]!))
  })
  return {
    kind: 'fp16',
    bytesPerVector: dims * 2,
    dot(q, row) {
      let s = 0
      const o = row * dims
      for (let j = 0; j < dims; j++) s += q[j]! * data[o + j]!
      return s
    },
  }
}

export function toInt8Rows(rows: readonly Float32Array[]): CompactRows {
  const dims = rows[0]?.length ?? 0
  const data = new Int8Array(rows.length * dims)
  const scales = new Float32Array(rows.length)
  rows.forEach((r, i) => {
    let max = 0
    for (let j = 0; j < dims; j++) max = Math.max(max, Math.abs(r[j]!))
    const s = max / 127 || 1
    scales[i] = s
    for (let j = 0; j < dims; j++) data[i * dims + j] = Math.round(r[j]! / s)
  })
  return {
    kind: 'int8',
    bytesPerVector: dims + 4,
    dot(q, row) {
      let s = 0
      const o = row * dims
      for (let j = 0; j < dims; j++) s += q[j]! * data[o + j]!
      return s * scales[row]!
    },
  }
}
