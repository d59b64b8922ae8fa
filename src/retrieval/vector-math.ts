/** Dense-vector helpers shared by indexing, the Matryoshka funnel and feedback. All vectors are Float32Array. */

export function l2Normalize(vector: Float32Array): Float32Array {
  let sum = 0
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!
  const norm = Math.sqrt(sum)
  if (norm === 0) return vector
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm
  return vector
}

/**
 * The first `dims` components, renormalised to unit length: a Matryoshka-truncated view of `vector`.
 * Returns a copy; the input is untouched.
 */
export function truncateAndNormalize(vector: Float32Array, dims: number): Float32Array {
  return l2Normalize(Float32Array.from(vector.subarray(0, dims)))
}

export function dot(a: Float32Array, b: Float32Array, dims = Math.min(a.length, b.length)): number {
  let sum = 0
  for (let i = 0; i < dims; i++) sum += a[i]! * b[i]!
  return sum
}

/**
 * Dot product of a[aOffset ..] and b[bOffset ..] over `dims` components, with four running sums so
 * the additions do not wait on each other (about 3x faster than one sum in V8). Every cosine in the
 * dense path adds in this order, so the in-memory and the SQLite rescoring return the same number.
 */
export function dotAt(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, dims: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  const end = dims - (dims % 4)
  let i = 0
  for (; i < end; i += 4) {
    s0 += a[aOffset + i]! * b[bOffset + i]!
    s1 += a[aOffset + i + 1]! * b[bOffset + i + 1]!
    s2 += a[aOffset + i + 2]! * b[bOffset + i + 2]!
    s3 += a[aOffset + i + 3]! * b[bOffset + i + 3]!
  }
  for (; i < dims; i++) s0 += a[aOffset + i]! * b[bOffset + i]!
  return s0 + s1 + (s2 + s3)
}

/** Cosine similarity over the first `dims` components (equal to the dot product of the truncated, renormalised vectors). */
export function cosineAtDims(a: Float32Array, b: Float32Array, dims: number): number {
  const aa = dotAt(a, 0, a, 0, dims)
  const bb = dotAt(b, 0, b, 0, dims)
  return aa === 0 || bb === 0 ? 0 : dotAt(a, 0, b, 0, dims) / Math.sqrt(aa * bb)
}

/** Float32Array <-> Buffer for SQLite BLOB storage (little-endian, as the platform stores it). */
export const vectorToBlob = (vector: Float32Array): Buffer => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength)

export function blobToVector(blob: Buffer): Float32Array {
  // Copy: SQLite's buffer may be reused and may not be 4-byte aligned.
  const out = new Float32Array(blob.byteLength / 4)
  Buffer.from(out.buffer).set(blob)
  return out
}
