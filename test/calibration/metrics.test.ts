import t from 'tap'
import {
  brierScore,
  calibrationSummary,
  ECE_BINS,
  expectedCalibrationError,
  logLoss,
  reliabilityBins,
} from '../../src/calibration/metrics.js'
import { bernoulli, mulberry32, near } from './synthetic.js'

t.test('ECE of an exactly calibrated sample is 0', async (t) => {
  // 10 predictions of 0.3 with 3 positives, 10 of 0.8 with 8 positives.
  const probabilities = [...new Array(10).fill(0.3), ...new Array(10).fill(0.8)]
  const labels = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0] as (0 | 1)[]
  near(t, expectedCalibrationError(probabilities, labels), 0, 1e-12)
})

t.test('ECE of a large sample drawn from its own probabilities is close to 0', async (t) => {
  const random = mulberry32(5)
  const probabilities = Array.from({ length: 200_000 }, () => random())
  const labels = probabilities.map((p) => bernoulli(random, p))
  t.ok(expectedCalibrationError(probabilities, labels) < 0.005)
  // The same sample read as if it were twice as confident is visibly miscalibrated.
  const overconfident = probabilities.map((p) => (p < 0.5 ? p / 2 : 1 - (1 - p) / 2))
  t.ok(expectedCalibrationError(overconfident, labels) > 0.1)
})

t.test('hand-checked ECE, Brier and log-loss', async (t) => {
  const probabilities = [0.1, 0.1, 0.9, 0.9]
  const labels: (0 | 1)[] = [0, 1, 1, 1]
  // bin (1/15, 2/15]: mean 0.1, observed 0.5, weight 1/2; bin (13/15, 14/15]: mean 0.9, observed 1, weight 1/2
  near(t, expectedCalibrationError(probabilities, labels), 0.5 * 0.4 + 0.5 * 0.1, 1e-12)
  near(t, brierScore(probabilities, labels), (0.01 + 0.81 + 0.01 + 0.01) / 4, 1e-12)
  const expected = -(Math.log(0.9) + Math.log(0.1) + 2 * Math.log(0.9)) / 4
  near(t, logLoss(probabilities, labels), expected, 1e-12)
  const summary = calibrationSummary(probabilities, labels)
  t.same(Object.keys(summary).sort(), ['brier', 'ece', 'logLoss'])
})

t.test('log-loss clips a confident miss instead of returning Infinity', async (t) => {
  const value = logLoss([0, 1], [1, 0])
  // Each miss costs about -ln(1e-15) ≈ 34.5 (1 - 1e-15 is not exact in binary, hence the tolerance).
  near(t, value, -Math.log(1e-15), 0.2)
})

t.test('reliability bins report mean predicted, observed frequency and count', async (t) => {
  const bins = reliabilityBins([0, 0.5, 0.52, 1], [0, 1, 0, 1])
  t.equal(bins.length, ECE_BINS)
  t.same(bins[0], { lower: 0, upper: 1 / 15, meanPredicted: 0, observedFrequency: 0, count: 1 })
  t.equal(bins[7]!.count, 2)
  near(t, bins[7]!.meanPredicted!, 0.51, 1e-12)
  t.equal(bins[7]!.observedFrequency, 0.5)
  t.same(bins[14], { lower: 14 / 15, upper: 1, meanPredicted: 1, observedFrequency: 1, count: 1 })
  t.same(bins[3], { lower: 3 / 15, upper: 4 / 15, meanPredicted: null, observedFrequency: null, count: 0 })
  t.equal(
    bins.reduce((s, b) => s + b.count, 0),
    4,
  )
})

t.test('bad inputs are refused with the value named', async (t) => {
  t.throws(() => brierScore([0.5], [1, 0]), /1 predictions and 2 labels/)
  t.throws(() => logLoss([1.2], [1]), /1\.2 is not allowed/)
  t.throws(() => expectedCalibrationError([], []), /at least one prediction/)
  t.throws(() => reliabilityBins([0.5], [1], 0), /bins/)
})
