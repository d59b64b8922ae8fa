import t from 'tap'
import { applyIsotonic, fitIsotonic } from '../../src/calibration/isotonic.js'
import { brierScore, expectedCalibrationError, logLoss, reliabilityBins } from '../../src/calibration/metrics.js'
import { fitPlatt } from '../../src/calibration/platt.js'
import { fitTemperature } from '../../src/calibration/temperature.js'
import { bernoulli, labelledScores, mulberry32, near, sigmoid, softmax } from './synthetic.js'

/*
 * Reference numbers from scikit-learn 1.9.1 (scipy 1.17.1, numpy 2.4.6, CPython 3.11.7), computed by
 * scratch/calib/sklearn_reference.py (gitignored; it regenerates these datasets with the same mulberry32
 * generator). Functions used: sklearn.calibration._sigmoid_calibration (Platt, returns A, B of
 * 1/(1+exp(A s + B)), so a = -A, b = -B), sklearn.isotonic.IsotonicRegression(out_of_bounds='clip') then
 * np.clip to [1e-3, 1-1e-3], sklearn.calibration.calibration_curve(n_bins=15, strategy='uniform') with
 * count weights for ECE, sklearn.metrics.brier_score_loss and log_loss, and
 * sklearn.calibration._TemperatureScaling (T = 1 / beta_).
 */

t.test('Platt matches scikit-learn', async (t) => {
  // 400 scores uniform in [-4, 4), labels from sigmoid(1.7 s - 0.6); 157 positives.
  const { scores, labels } = labelledScores(11, 400, -4, 4, (s) => sigmoid(1.7 * s - 0.6))
  t.equal(labels.filter((y) => y === 1).length, 157)
  const { a, b } = fitPlatt(scores, labels)
  // sklearn (L-BFGS, gtol 1e-6): a = 1.6993691522147747, b = -0.7275396887386979
  // same objective by scipy BFGS at gtol 1e-12: a = 1.6993691532797526, b = -0.7275397052332413
  near(t, a, 1.6993691532797526, 1e-5, 'a')
  near(t, b, -0.7275397052332413, 1e-5, 'b')
})

t.test('Platt on separable data matches scikit-learn', async (t) => {
  const scores = Array.from({ length: 30 }, (_, k) => (k - 14.5) / 5)
  const labels = scores.map((s) => (s > 0 ? 1 : 0)) as (0 | 1)[]
  const { a, b } = fitPlatt(scores, labels)
  // sklearn: a = 1.728105665387928, b ≈ -1e-16; tight scipy optimum: a = 1.7281056609936687, b ≈ -1e-8
  near(t, a, 1.7281056609936687, 1e-5, 'a')
  near(t, b, 0, 1e-6, 'b')
})

t.test('isotonic matches scikit-learn', async (t) => {
  // 1200 scores on a 0.01 grid in [-3, 3) (so with ties), labels from 0.1 + 0.8 sigmoid(s^3); 583 positives.
  const random = mulberry32(23)
  const scores: number[] = []
  const labels: (0 | 1)[] = []
  for (let i = 0; i < 1200; i++) {
    const s = Math.floor(random() * 600) / 100 - 3
    labels.push(bernoulli(random, 0.1 + 0.8 * sigmoid(s ** 3)))
    scores.push(s)
  }
  t.equal(labels.filter((y) => y === 1).length, 583)
  const params = fitIsotonic(scores, labels)
  t.equal(params.x.length, 24, 'sklearn keeps 24 thresholds')
  const sklearn: [number, number][] = [
    [-3.5, 0.10650887573964497],
    [-2.0, 0.10650887573964497],
    [-1.234, 0.19736842105263158],
    [-0.3, 0.5315315315315315],
    [1.777, 0.8848684210526315],
    [4.0, 0.999],
    // between block boundaries, where interpolation decides
    [-1.465, 0.15193864839613727],
    [-1.065, 0.2415413533834596],
    [-0.92, 0.30952380952380976],
    [-0.335, 0.48619587329264696],
    [0.705, 0.5642732284523322],
    [1.015, 0.5985074626865672],
    [1.09, 0.6695652173913058],
    [1.425, 0.8799342105263159],
    [2.945, 0.9424342105263106],
  ]
  for (const [s, expected] of sklearn) near(t, applyIsotonic(params, s), expected, 1e-9, `P(${s})`)
})

t.test('ECE, Brier and log-loss match scikit-learn', async (t) => {
  // 2000 predictions p = u, labels drawn with probability u^2 (overconfident).
  const random = mulberry32(37)
  const probabilities: number[] = []
  const labels: (0 | 1)[] = []
  for (let i = 0; i < 2000; i++) {
    const u = random()
    labels.push(bernoulli(random, u * u))
    probabilities.push(u)
  }
  t.same(
    reliabilityBins(probabilities, labels).map((b) => b.count),
    [140, 142, 121, 129, 129, 131, 129, 158, 122, 145, 146, 136, 123, 108, 141],
  )
  near(t, expectedCalibrationError(probabilities, labels), 0.170933159887325, 1e-12, 'ECE')
  near(t, brierScore(probabilities, labels), 0.16409366405305253, 1e-12, 'Brier')
  near(t, logLoss(probabilities, labels), 0.4931100487859925, 1e-12, 'log-loss')
})

t.test('temperature scaling matches scikit-learn', async (t) => {
  // 300 windows of 5 logits uniform in [-3, 3), target drawn from softmax(z / 2).
  const random = mulberry32(41)
  const windows = Array.from({ length: 300 }, () => {
    const logits = Array.from({ length: 5 }, () => random() * 6 - 3)
    const p = softmax(logits, 2)
    const u = random()
    let acc = 0
    let target = 4
    for (let k = 0; k < 5; k++) {
      acc += p[k]!
      if (u < acc) {
        target = k
        break
      }
    }
    return { logits, target }
  })
  near(t, fitTemperature(windows).temperature, 1.7336999418961996, 1e-6, 'T')
})
