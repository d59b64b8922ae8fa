import { errors } from '../errors.js'

/**
 * Platt scaling: P(relevant | s) = sigmoid(a * s + b), fitted by Newton's method (IRLS) on log-loss.
 *
 * Targets are Platt's smoothed labels — positives become (N+ + 1)/(N+ + 2), negatives 1/(N- + 2) — so
 * the optimum stays finite on separable data: a perfect split would need p = 1 exactly, and the
 * smoothed target makes that infinitely costly. A small L2 term on the (standardised) slopes keeps
 * the Hessian invertible when a feature is constant.
 *
 * @example
 *   const params = fitPlatt(crossEncoderLogits, labels)   // { a: 0.83, b: -1.2 }
 *   applyPlatt(params, 2.5)                               // 0.71
 */
export interface PlattParams {
  /** Slope on the raw score. */
  a: number
  /** Intercept. */
  b: number
}

/** A logistic model over several features: P = sigmoid(weights · x + bias). */
export interface LogisticParams {
  weights: number[]
  bias: number
}

export interface LogisticFitOptions {
  /** Use Platt's smoothed targets instead of hard 0/1 labels (default true). */
  smoothTargets?: boolean
  /**
   * L2 strength on standardised slopes, relative to the mean loss. The default 1e-8 keeps the Hessian
   * invertible but moves a real fit by ~1e-6 (see the scikit-learn cross-check).
   */
  l2?: number
  maxIterations?: number
}

const DEFAULT_L2 = 1e-8
const DEFAULT_MAX_ITERATIONS = 100
const GRADIENT_TOLERANCE = 1e-12

/** Numerically stable logistic function. */
export const sigmoid = (x: number): number => {
  if (x >= 0) return 1 / (1 + Math.exp(-x))
  const e = Math.exp(x)
  return e / (1 + e)
}

/** Inverse of `sigmoid`, with p clipped to [eps, 1 - eps] so the result is finite. */
export const logit = (p: number, eps = 1e-12): number => {
  const q = Math.min(1 - eps, Math.max(eps, p))
  return Math.log(q / (1 - q))
}

/** log(1 + e^z) without overflow. */
const softplus = (z: number): number => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))

/** Platt's smoothed targets: the MAP estimate under a uniform prior on each class's rate. */
export const plattTargets = (labels: readonly (0 | 1)[]): number[] => {
  const positives = labels.reduce<number>((sum, y) => sum + y, 0)
  const negatives = labels.length - positives
  const high = (positives + 1) / (positives + 2)
  const low = 1 / (negatives + 2)
  return labels.map((y) => (y === 1 ? high : low))
}

/** Fit P = sigmoid(a*s + b) to scalar scores and 0/1 labels. */
export function fitPlatt(
  scores: readonly number[],
  labels: readonly (0 | 1)[],
  options: LogisticFitOptions = {},
): PlattParams {
  const { weights, bias } = fitLogistic(
    scores.map((s) => [s]),
    labels,
    options,
  )
  return { a: weights[0] ?? 0, b: bias }
}

export const applyPlatt = (params: PlattParams, score: number): number => sigmoid(params.a * score + params.b)

export const applyLogistic = (params: LogisticParams, features: readonly number[]): number =>
  sigmoid(params.weights.reduce((z, w, j) => z + w * (features[j] ?? 0), params.bias))

/**
 * Fit a logistic model by damped Newton steps. Features are standardised internally (for conditioning
 * and so the L2 guard means the same thing for cosines and BM25) and the result is mapped back.
 */
export function fitLogistic(
  features: readonly (readonly number[])[],
  labels: readonly (0 | 1)[],
  options: LogisticFitOptions = {},
): LogisticParams {
  const n = features.length
  if (n === 0 || n !== labels.length) {
    throw errors.invalidRequest('examples', `need equally many feature rows and labels, got ${n} and ${labels.length}`)
  }
  const d = features[0]?.length ?? 0
  const targets = options.smoothTargets === false ? labels.map(Number) : plattTargets(labels)
  const { rows, means, scales } = standardise(features, d)
  const l2 = options.l2 ?? DEFAULT_L2
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS

  // theta = [w_1..w_d, bias]; start from the intercept-only solution.
  const meanTarget = targets.reduce((s, t) => s + t, 0) / n
  const theta = [...new Array<number>(d).fill(0), logit(meanTarget)]
  const objective = (params: readonly number[]): number => {
    let loss = 0
    for (let i = 0; i < n; i++) {
      const z = linear(params, rows[i]!, d)
      loss += softplus(z) - targets[i]! * z
    }
    let penalty = 0
    for (let j = 0; j < d; j++) penalty += params[j]! ** 2
    return loss / n + (l2 / 2) * penalty
  }

  let current = objective(theta)
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const { gradient, hessian } = derivatives(theta, rows, targets, d, l2)
    if (Math.max(...gradient.map(Math.abs)) < GRADIENT_TOLERANCE) break
    const step = solveLinearSystem(hessian, gradient)
    // Backtrack until the loss does not increase: Newton can overshoot far from the optimum.
    let scale = 1
    let candidate = theta.map((v, j) => v - step[j]!)
    let next = objective(candidate)
    while (next > current && scale > 1e-10) {
      scale /= 2
      candidate = theta.map((v, j) => v - scale * step[j]!)
      next = objective(candidate)
    }
    if (next > current) break
    const improvement = current - next
    theta.splice(0, theta.length, ...candidate)
    current = next
    if (improvement <= 1e-15 * Math.max(1, current)) break
  }

  const weights = means.map((_, j) => theta[j]! / scales[j]!)
  const bias = theta[d]! - weights.reduce((s, w, j) => s + w * means[j]!, 0)
  return { weights, bias }
}

const linear = (theta: readonly number[], row: readonly number[], d: number): number => {
  let z = theta[d]!
  for (let j = 0; j < d; j++) z += theta[j]! * row[j]!
  return z
}

function standardise(features: readonly (readonly number[])[], d: number) {
  const n = features.length
  const means = new Array<number>(d).fill(0)
  const scales = new Array<number>(d).fill(0)
  for (const row of features) {
    if (row.length !== d) throw errors.invalidRequest('examples', `every feature row needs ${d} values, got ${row.length}`)
    for (let j = 0; j < d; j++) {
      const v = row[j]!
      if (!Number.isFinite(v)) throw errors.invalidValue('score', v, 'scores must be finite numbers')
      means[j]! += v / n
    }
  }
  for (const row of features) for (let j = 0; j < d; j++) scales[j]! += (row[j]! - means[j]!) ** 2 / n
  for (let j = 0; j < d; j++) scales[j] = Math.sqrt(scales[j]!) || 1
  const rows = features.map((row) => row.map((v, j) => (v - means[j]!) / scales[j]!))
  return { rows, means, scales }
}

function derivatives(theta: readonly number[], rows: readonly number[][], targets: readonly number[], d: number, l2: number) {
  const n = rows.length
  const size = d + 1
  const gradient = new Array<number>(size).fill(0)
  const hessian = Array.from({ length: size }, () => new Array<number>(size).fill(0))
  for (let i = 0; i < n; i++) {
    const x = [...rows[i]!, 1]
    const p = sigmoid(linear(theta, rows[i]!, d))
    const residual = p - targets[i]!
    const curvature = Math.max(p * (1 - p), 1e-12)
    for (let j = 0; j < size; j++) {
      gradient[j]! += (residual * x[j]!) / n
      for (let k = 0; k <= j; k++) hessian[j]![k]! += (curvature * x[j]! * x[k]!) / n
    }
  }
  for (let j = 0; j < size; j++) for (let k = j + 1; k < size; k++) hessian[j]![k] = hessian[k]![j]!
  for (let j = 0; j < d; j++) {
    gradient[j]! += l2 * theta[j]!
    hessian[j]![j]! += l2
  }
  return { gradient, hessian }
}

/** Gaussian elimination with partial pivoting; the systems here are 2x2 or 3x3. */
function solveLinearSystem(matrix: readonly number[][], rhs: readonly number[]): number[] {
  const size = rhs.length
  const a = matrix.map((row, i) => [...row, rhs[i]!])
  for (let col = 0; col < size; col++) {
    let pivot = col
    for (let r = col + 1; r < size; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r
    ;[a[col], a[pivot]] = [a[pivot]!, a[col]!]
    const diag = a[col]![col]! || 1e-300
    for (let r = col + 1; r < size; r++) {
      const factor = a[r]![col]! / diag
      for (let c = col; c <= size; c++) a[r]![c]! -= factor * a[col]![c]!
    }
  }
  const x = new Array<number>(size).fill(0)
  for (let r = size - 1; r >= 0; r--) {
    let sum = a[r]![size]!
    for (let c = r + 1; c < size; c++) sum -= a[r]![c]! * x[c]!
    x[r] = sum / (a[r]![r]! || 1e-300)
  }
  return x
}
