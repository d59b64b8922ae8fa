import { errors } from '../errors.js'

/**
 * How well predicted probabilities match observed relevance rates.
 *
 * @example
 *   calibrationSummary([0.9, 0.2, 0.7], [1, 0, 1])   // { ece, brier, logLoss }
 */
export interface CalibrationSummary {
  /** Expected calibration error over ECE_BINS equal-width bins, weighted by bin count. */
  ece: number
  brier: number
  logLoss: number
}

export interface ReliabilityBin {
  lower: number
  upper: number
  /** Mean predicted probability in the bin; null when the bin is empty. */
  meanPredicted: number | null
  /** Fraction of the bin's examples labelled relevant; null when the bin is empty. */
  observedFrequency: number | null
  count: number
}

export const ECE_BINS = 15

/** Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] so one confident miss costs ~34.5, not ∞. */
export const LOG_LOSS_EPS = 1e-15

function checkInputs(probabilities: readonly number[], labels: readonly number[]): void {
  if (probabilities.length !== labels.length) {
    throw errors.invalidRequest('labels', `need one label per prediction, got ${probabilities.length} predictions and ${labels.length} labels`)
  }
  if (probabilities.length === 0) throw errors.invalidRequest('labels', 'need at least one prediction')
  for (const p of probabilities) {
    if (!(p >= 0 && p <= 1)) throw errors.invalidValue('probability', p, 'probabilities must lie in [0, 1]')
  }
}

/**
 * Equal-width bins over [0, 1]. A probability on an edge goes to the lower bin — bins are (lower, upper],
 * the first also holding 0 — the convention of Guo et al. (2017) and scikit-learn's calibration_curve.
 */
export function reliabilityBins(probabilities: readonly number[], labels: readonly (0 | 1)[], bins = ECE_BINS): ReliabilityBin[] {
  checkInputs(probabilities, labels)
  if (!Number.isInteger(bins) || bins < 1) throw errors.invalidValue('bins', bins, 'must be an integer >= 1')
  const sums = new Array<number>(bins).fill(0)
  const positives = new Array<number>(bins).fill(0)
  const counts = new Array<number>(bins).fill(0)
  probabilities.forEach((p, i) => {
    const bin = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1))
    sums[bin]! += p
    positives[bin]! += labels[i]!
    counts[bin]! += 1
  })
  return counts.map((count, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    meanPredicted: count > 0 ? sums[b]! / count : null,
    observedFrequency: count > 0 ? positives[b]! / count : null,
    count,
  }))
}

/** ECE = Σ_b (n_b / N) · |observed_b − meanPredicted_b|. */
export function expectedCalibrationError(probabilities: readonly number[], labels: readonly (0 | 1)[], bins = ECE_BINS): number {
  return eceFromBins(reliabilityBins(probabilities, labels, bins))
}

export function eceFromBins(bins: readonly ReliabilityBin[]): number {
  const total = bins.reduce((sum, b) => sum + b.count, 0)
  return bins.reduce(
    (sum, b) => (b.count === 0 ? sum : sum + (b.count / total) * Math.abs(b.observedFrequency! - b.meanPredicted!)),
    0,
  )
}

/** Mean squared error between probability and label. */
export function brierScore(probabilities: readonly number[], labels: readonly (0 | 1)[]): number {
  checkInputs(probabilities, labels)
  return probabilities.reduce((sum, p, i) => sum + (p - labels[i]!) ** 2, 0) / probabilities.length
}

/** Mean negative log-likelihood (natural log), with probabilities clipped by LOG_LOSS_EPS. */
export function logLoss(probabilities: readonly number[], labels: readonly (0 | 1)[]): number {
  checkInputs(probabilities, labels)
  let sum = 0
  probabilities.forEach((p, i) => {
    const q = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p))
    sum -= labels[i] === 1 ? Math.log(q) : Math.log(1 - q)
  })
  return sum / probabilities.length
}

export const calibrationSummary = (probabilities: readonly number[], labels: readonly (0 | 1)[]): CalibrationSummary => ({
  ece: expectedCalibrationError(probabilities, labels),
  brier: brierScore(probabilities, labels),
  logLoss: logLoss(probabilities, labels),
})
