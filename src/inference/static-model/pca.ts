/**
 * Principal axes of a set of row vectors, used to rotate a static embedding table so that its
 * leading dimensions carry the most variance and a Matryoshka-truncated prefix keeps the most signal.
 *
 * The axes come from the mean-centred covariance (the usual PCA definition), but the table is only
 * rotated, never centred: a rotation about the origin is an isometry, so every dot product and cosine
 * between words, and between SIF sentence vectors, is exactly what the original GloVe vectors give.
 * Centring would change those cosines (it removes the direction all GloVe vectors share), which is a
 * modelling change this builder does not make silently.
 */

export interface PrincipalAxes {
  dims: number
  /** Row-major [dims x dims]; row k is the k-th principal axis (unit length), by decreasing variance. */
  axes: Float64Array
  /** Variance of the data along each axis (the covariance eigenvalues), decreasing. */
  variances: Float64Array
  /** Mean of the input rows; reported, not subtracted from anything. */
  mean: Float64Array
}

export interface PcaProgress {
  /** Called with the fraction of rows processed, between 0 and 1. */
  onProgress?: (fraction: number) => void
  /** Rows between progress reports and event-loop yields. */
  chunkRows?: number
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

function assertShape(vectors: Float32Array, dims: number): number {
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`pca: dims must be a positive integer, got ${dims}`)
  if (vectors.length % dims !== 0) throw new RangeError(`pca: ${vectors.length} values are not a whole number of ${dims}-d rows`)
  const rows = vectors.length / dims
  if (rows < 2) throw new RangeError(`pca: need at least 2 rows, got ${rows}`)
  return rows
}

/** Rows handled together by the inner loops: each coefficient loaded is reused four times, which halves the time. */
const BLOCK = 4

/** Copies rows [first, first + BLOCK) minus `shift` into `block` as doubles; rows past the end become zeros. */
function loadBlock(vectors: Float32Array, dims: number, rows: number, first: number, block: Float64Array, shift?: Float64Array): void {
  for (let b = 0; b < BLOCK; b++) {
    const out = b * dims
    if (first + b >= rows) {
      block.fill(0, out, out + dims)
      continue
    }
    const base = (first + b) * dims
    for (let i = 0; i < dims; i++) block[out + i] = vectors[base + i]! - (shift === undefined ? 0 : shift[i]!)
  }
}

/** Population covariance of the rows (two passes: mean first, then centred outer products). */
export async function covariance(vectors: Float32Array, dims: number, progress: PcaProgress = {}): Promise<{ covariance: Float64Array; mean: Float64Array }> {
  const rows = assertShape(vectors, dims)
  const chunk = progress.chunkRows ?? 8192
  const mean = new Float64Array(dims)
  for (let r = 0; r < rows; r++) {
    const base = r * dims
    for (let i = 0; i < dims; i++) mean[i]! += vectors[base + i]!
  }
  for (let i = 0; i < dims; i++) mean[i] = mean[i]! / rows

  const upper = new Float64Array(dims * dims)
  const c = new Float64Array(BLOCK * dims)
  const [d1, d2, d3] = [dims, 2 * dims, 3 * dims]
  for (let r = 0; r < rows; r += BLOCK) {
    loadBlock(vectors, dims, rows, r, c, mean)
    for (let i = 0; i < dims; i++) {
      const c0 = c[i]!
      const c1 = c[d1 + i]!
      const c2 = c[d2 + i]!
      const c3 = c[d3 + i]!
      const rowBase = i * dims
      for (let j = i; j < dims; j++) upper[rowBase + j]! += c0 * c[j]! + c1 * c[d1 + j]! + c2 * c[d2 + j]! + c3 * c[d3 + j]!
    }
    if (Math.floor((r + BLOCK) / chunk) > Math.floor(r / chunk)) {
      progress.onProgress?.((r + BLOCK) / rows)
      await yieldToEventLoop()
    }
  }
  for (let i = 0; i < dims; i++) {
    for (let j = i; j < dims; j++) {
      const value = upper[i * dims + j]! / rows
      upper[i * dims + j] = value
      upper[j * dims + i] = value
    }
  }
  progress.onProgress?.(1)
  return { covariance: upper, mean }
}

/**
 * Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations. Returns eigenvalues in
 * decreasing order and the eigenvectors as rows (row k pairs with value k), each signed so that its
 * largest-magnitude component is positive, which makes the result reproducible across runs.
 */
export function symmetricEigen(matrix: Float64Array, n: number, maxSweeps = 64): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} values for a ${n}x${n} matrix, got ${matrix.length}`)
  const a = Float64Array.from(matrix)
  const v = new Float64Array(n * n)
  for (let i = 0; i < n; i++) v[i * n + i] = 1

  let total = 0
  for (let i = 0; i < n * n; i++) total += a[i]! * a[i]!
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let offDiagonal = 0
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) offDiagonal += a[p * n + q]! ** 2
    if (offDiagonal <= 1e-30 * total) break
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) rotate(a, v, n, p, q)
    }
  }
  return sortedEigenpairs(a, v, n)
}

/** One Jacobi rotation in the (p, q) plane that zeroes a[p][q]; `v` accumulates the rotations. */
function rotate(a: Float64Array, v: Float64Array, n: number, p: number, q: number): void {
  const apq = a[p * n + q]!
  if (apq === 0) return
  const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq)
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
  const c = 1 / Math.sqrt(t * t + 1)
  const s = t * c
  for (let k = 0; k < n; k++) {
    const akp = a[k * n + p]!
    const akq = a[k * n + q]!
    a[k * n + p] = c * akp - s * akq
    a[k * n + q] = s * akp + c * akq
  }
  for (let k = 0; k < n; k++) {
    const apk = a[p * n + k]!
    const aqk = a[q * n + k]!
    a[p * n + k] = c * apk - s * aqk
    a[q * n + k] = s * apk + c * aqk
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p]!
    const vkq = v[k * n + q]!
    v[k * n + p] = c * vkp - s * vkq
    v[k * n + q] = s * vkp + c * vkq
  }
}

function sortedEigenpairs(a: Float64Array, v: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!)
  const values = new Float64Array(n)
  const vectors = new Float64Array(n * n)
  order.forEach((column, k) => {
    values[k] = a[column * n + column]!
    let largest = 0
    for (let i = 0; i < n; i++) if (Math.abs(v[i * n + column]!) > Math.abs(largest)) largest = v[i * n + column]!
    const sign = largest < 0 ? -1 : 1
    for (let i = 0; i < n; i++) vectors[k * n + i] = sign * v[i * n + column]!
  })
  return { values, vectors }
}

/** The principal axes of the rows of `vectors` (row-major, `dims` columns). */
export async function principalAxes(vectors: Float32Array, dims: number, progress: PcaProgress = {}): Promise<PrincipalAxes> {
  const { covariance: cov, mean } = await covariance(vectors, dims, progress)
  const { values, vectors: axes } = symmetricEigen(cov, dims)
  // Jacobi leaves round-off negatives on a rank-deficient covariance; a variance is never below zero.
  for (let k = 0; k < dims; k++) values[k] = Math.max(0, values[k]!)
  return { dims, axes, variances: values, mean }
}

/** Rotates every row in place into the principal-axes basis: row' = axes · row. No centring. */
export async function rotateRows(vectors: Float32Array, pca: PrincipalAxes, progress: PcaProgress = {}): Promise<void> {
  const { dims, axes } = pca
  const rows = assertShape(vectors, dims)
  const chunk = progress.chunkRows ?? 8192
  const x = new Float64Array(BLOCK * dims)
  const [d1, d2, d3] = [dims, 2 * dims, 3 * dims]
  for (let r = 0; r < rows; r += BLOCK) {
    loadBlock(vectors, dims, rows, r, x)
    const count = Math.min(BLOCK, rows - r)
    for (let k = 0; k < dims; k++) {
      const axisBase = k * dims
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let i = 0; i < dims; i++) {
        const a = axes[axisBase + i]!
        s0 += a * x[i]!
        s1 += a * x[d1 + i]!
        s2 += a * x[d2 + i]!
        s3 += a * x[d3 + i]!
      }
      const out = r * dims + k
      vectors[out] = s0
      if (count > 1) vectors[out + d1] = s1
      if (count > 2) vectors[out + d2] = s2
      if (count > 3) vectors[out + d3] = s3
    }
    if (Math.floor((r + BLOCK) / chunk) > Math.floor(r / chunk)) {
      progress.onProgress?.((r + BLOCK) / rows)
      await yieldToEventLoop()
    }
  }
  progress.onProgress?.(1)
}
