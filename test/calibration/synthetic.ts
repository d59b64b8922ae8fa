import type { Test } from 'tap'

/**
 * Seeded synthetic data for the calibration tests. `mulberry32` (the fold shuffler's generator) is
 * bit-for-bit the generator in scratch/calib/sklearn_reference.py, so the scikit-learn cross-check sees
 * the same datasets.
 */
import { mulberry32 } from '../../src/calibration/fit.js'

export { mulberry32 }

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

export const bernoulli = (random: () => number, p: number): 0 | 1 => (random() < p ? 1 : 0)

/** Scores uniform in [lo, hi) with labels drawn from P(y = 1 | s) = probability(s). */
export function labelledScores(seed: number, n: number, lo: number, hi: number, probability: (s: number) => number) {
  const random = mulberry32(seed)
  const scores: number[] = []
  const labels: (0 | 1)[] = []
  for (let i = 0; i < n; i++) {
    const s = random() * (hi - lo) + lo
    labels.push(bernoulli(random, probability(s)))
    scores.push(s)
  }
  return { scores, labels }
}

/** softmax(z / T) */
export function softmax(logits: readonly number[], temperature = 1): number[] {
  const max = Math.max(...logits)
  const e = logits.map((z) => Math.exp((z - max) / temperature))
  const sum = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / sum)
}

/** Assert |actual - expected| <= tolerance, showing both numbers when it fails. */
export function near(
  t: Test,
  actual: number,
  expected: number,
  tolerance: number,
  message = 'close enough',
): void {
  t.ok(Math.abs(actual - expected) <= tolerance, `${message}: ${actual} vs ${expected} (±${tolerance})`, { actual, expected })
}
