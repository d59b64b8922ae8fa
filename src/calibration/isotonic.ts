import { errors } from '../errors.js'

/**
 * Isotonic calibration: the non-decreasing step function of the score that best fits the labels in
 * squared error (pool-adjacent-violators), read between steps by linear interpolation and clipped to
 * [eps, 1 - eps]. It assumes only that a higher score never means less relevant, so it can fix any
 * monotone distortion — and, with few labels, fits their noise. Hence the floor below.
 *
 * @example
 *   const params = fitIsotonic(scores, labels)   // throws below MIN_ISOTONIC_EXAMPLES
 *   applyIsotonic(params, 0.42)
 */
export interface IsotonicParams {
  /** Increasing scores at block boundaries (each block's first and last distinct score). */
  x: number[]
  /** Fitted probability at each `x` (non-decreasing, unclipped). */
  y: number[]
  /** Predictions are clipped to [eps, 1 - eps]. */
  eps: number
}

export const MIN_ISOTONIC_EXAMPLES = 1000

/**
 * Extreme blocks are often all-0 or all-1; a thousand labels cannot justify more than three nines, and
 * an unclipped 0 would make the log-loss of a single surprise infinite.
 */
export const DEFAULT_ISOTONIC_EPS = 1e-3

export interface IsotonicFitOptions {
  eps?: number
  /** Refuse to fit below this many examples (default MIN_ISOTONIC_EXAMPLES). */
  minExamples?: number
}

/**
 * Weighted least-squares non-decreasing fit of `values`, in order. Returns one fitted value per input.
 * Adjacent blocks that violate monotonicity are pooled into their weighted mean until none do.
 */
export function poolAdjacentViolators(values: readonly number[], weights?: readonly number[]): number[] {
  const blocks: { mean: number; weight: number; size: number }[] = []
  values.forEach((value, i) => {
    let block = { mean: value, weight: weights?.[i] ?? 1, size: 1 }
    // Merge backwards while the previous block sits above the new one.
    while (blocks.length > 0 && blocks[blocks.length - 1]!.mean >= block.mean) {
      const previous = blocks.pop()!
      const weight = previous.weight + block.weight
      block = { mean: (previous.mean * previous.weight + block.mean * block.weight) / weight, weight, size: previous.size + block.size }
    }
    blocks.push(block)
  })
  return blocks.flatMap((b) => new Array<number>(b.size).fill(b.mean))
}

export function fitIsotonic(scores: readonly number[], labels: readonly (0 | 1)[], options: IsotonicFitOptions = {}): IsotonicParams {
  const minExamples = options.minExamples ?? MIN_ISOTONIC_EXAMPLES
  if (scores.length < minExamples) {
    throw errors.invalidRequest(
      'examples',
      `isotonic calibration needs at least ${minExamples} labelled examples, got ${scores.length}; use platt below that`,
    )
  }
  if (scores.length !== labels.length || scores.length === 0) {
    throw errors.invalidRequest('examples', `need equally many scores and labels (at least one), got ${scores.length} and ${labels.length}`)
  }
  for (const s of scores) if (!Number.isFinite(s)) throw errors.invalidValue('score', s, 'scores must be finite numbers')

  // Tied scores must get one value: pool them first (their mean label, weighted by how many).
  const order = scores.map((_, i) => i).sort((i, j) => scores[i]! - scores[j]!)
  const distinct: { x: number; mean: number; weight: number }[] = []
  for (const i of order) {
    const last = distinct[distinct.length - 1]
    if (last && last.x === scores[i]) {
      last.mean = (last.mean * last.weight + labels[i]!) / (last.weight + 1)
      last.weight += 1
    } else {
      distinct.push({ x: scores[i]!, mean: labels[i]!, weight: 1 })
    }
  }
  const fitted = poolAdjacentViolators(
    distinct.map((d) => d.mean),
    distinct.map((d) => d.weight),
  )

  // Keep only block boundaries: interior points of a flat block add nothing to the interpolation.
  const x: number[] = []
  const y: number[] = []
  fitted.forEach((value, k) => {
    const startsBlock = k === 0 || fitted[k - 1] !== value
    const endsBlock = k === fitted.length - 1 || fitted[k + 1] !== value
    if (startsBlock || endsBlock) {
      x.push(distinct[k]!.x)
      y.push(value)
    }
  })
  return { x, y, eps: options.eps ?? DEFAULT_ISOTONIC_EPS }
}

/** Interpolate linearly between block boundaries; flat beyond the fitted range; clip to [eps, 1 - eps]. */
export function applyIsotonic(params: IsotonicParams, score: number): number {
  const { x, y, eps } = params
  const clip = (p: number): number => Math.min(1 - eps, Math.max(eps, p))
  const last = x.length - 1
  if (last < 0) throw errors.invalidRequest('calibrator', 'isotonic calibrator has no points')
  if (Number.isNaN(score)) throw errors.invalidValue('score', score, 'scores must be numbers')
  if (score <= x[0]!) return clip(y[0]!)
  if (score >= x[last]!) return clip(y[last]!)
  // Binary search for the segment x[lo] <= score < x[lo + 1].
  let lo = 0
  let hi = last
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (x[mid]! <= score) lo = mid
    else hi = mid
  }
  const t = (score - x[lo]!) / (x[hi]! - x[lo]!)
  return clip(y[lo]! + t * (y[hi]! - y[lo]!))
}
