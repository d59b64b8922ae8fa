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

/** Cosine similarity over the first `dims` components (equal to the dot product of the truncated, renormalised vectors). */
export function cosineAtDims(a: Float32Array, b: Float32Array, dims: number): number {
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < dims; i++) {
    ab += a[i]! * b[i]!
    aa += a[i]! * a[i]!
    bb += b[i]! * b[i]!
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb)
}

/** Float32Array <-> Buffer for SQLite BLOB storage (little-endian, as the platform stores it). */
export const vectorToBlob = (vector: Float32Array): Buffer => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength)

export function blobToVector(blob: Buffer): Float32Array {
  // Copy: SQLite's buffer may be reused and may not be 4-byte aligned.
  const out = new Float32Array(blob.byteLength / 4)
  Buffer.from(out.buffer).set(blob)
  return out
}
