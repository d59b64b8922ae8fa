/**
 * Deterministic synthetic embeddings with the spectrum of a real set, for benchmarks larger than any
 * corpus we can embed on this host: each vector mixes two real embeddings plus Gaussian noise whose
 * per-dimension scale follows the real set's, so the variance profile across dimensions (what
 * Matryoshka truncation depends on) carries over, while every vector is new.
 *
 * @example
 *   const docs = synthesizeVectors(realDocs, 384, 1_000_000, DEFAULT_MIXTURE, 1)
 */

/** v = normalize(primary·e_i + secondary·e_j + noise·(std ⊙ g)), e_i, e_j real rows, g ~ N(0, I). */
export interface Mixture {
  primary: number
  secondary: number
  noise: number
}

/**
 * Chosen on the SciFact sub2000 sets (2,000 docs, 300 queries) by comparing recall@10 of exact search at
 * 1/2, 1/4, 1/6 of the dims against exact full-dim search, real vs synthetic: secondary 0.3 and noise
 * 0.25 came closest of those tried (0.5/0.5, 0.5/0.25, 0.3/0.25, 0.3/0.1, 0/0.25), still a little harder
 * to truncate than the real vectors (MiniLM at 96 dims: 0.45 vs 0.51; EmbeddingGemma at 192: 0.58 vs 0.63).
 */
export const DEFAULT_MIXTURE: Mixture = { primary: 1, secondary: 0.3, noise: 0.25 }

/** mulberry32: a small seeded generator of uniform floats in [0, 1); the same seed gives the same stream. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws from a uniform stream (Box-Muller; the second value of each pair is kept). */
export function seededGaussian(uniform: () => number): () => number {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const value = spare
      spare = undefined
      return value
    }
    const u = 1 - uniform() // (0, 1]: log stays finite
    const radius = Math.sqrt(-2 * Math.log(u))
    const angle = 2 * Math.PI * uniform()
    spare = radius * Math.sin(angle)
    return radius * Math.cos(angle)
  }
}

/** The standard deviation of each dimension over the rows of a row-major matrix. */
export function perDimensionStd(rows: Float32Array, dims: number): Float32Array {
  const count = rows.length / dims
  if (!Number.isInteger(count) || count < 2) throw new Error(`perDimensionStd needs at least 2 rows of ${dims} dims, got ${rows.length} values`)
  const mean = new Float64Array(dims)
  const square = new Float64Array(dims)
  for (let r = 0; r < count; r++) {
    for (let d = 0; d < dims; d++) {
      const x = rows[r * dims + d]!
      mean[d]! += x
      square[d]! += x * x
    }
  }
  const std = new Float32Array(dims)
  for (let d = 0; d < dims; d++) {
    const m = mean[d]! / count
    std[d] = Math.sqrt(Math.max(0, square[d]! / count - m * m) * (count / (count - 1)))
  }
  return std
}

/**
 * Writes `count` synthetic unit vectors into `out` from row `from` on (so a large set can be made in
 * chunks with progress); the stream of row r depends only on (seed, r), so chunking does not change
 * the result.
 */
export function synthesizeInto(out: Float32Array, real: Float32Array, std: Float32Array, mixture: Mixture, seed: number, from: number, count: number): void {
  const dims = std.length
  const realCount = real.length / dims
  for (let r = from; r < from + count; r++) {
    const uniform = seededUniform(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ r)
    const gaussian = seededGaussian(uniform)
    const i = Math.floor(uniform() * realCount)
    const j = Math.floor(uniform() * realCount)
    const offset = r * dims
    let norm2 = 0
    for (let d = 0; d < dims; d++) {
      const x = mixture.primary * real[i * dims + d]! + mixture.secondary * real[j * dims + d]! + mixture.noise * std[d]! * gaussian()
      out[offset + d] = x
      norm2 += x * x
    }
    const scale = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0
    for (let d = 0; d < dims; d++) out[offset + d]! *= scale
  }
}

/** `count` synthetic unit vectors of `dims` from the real rows (see synthesizeInto). */
export function synthesizeVectors(real: Float32Array, dims: number, count: number, mixture: Mixture, seed: number): Float32Array {
  const out = new Float32Array(count * dims)
  synthesizeInto(out, real, perDimensionStd(real, dims), mixture, seed, 0, count)
  return out
}
