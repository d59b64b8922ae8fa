import t from 'tap'
import { applyLogistic, applyPlatt, fitLogistic, fitPlatt, logit, plattTargets, sigmoid } from '../../src/calibration/platt.js'
import { bernoulli, labelledScores, mulberry32, near } from './synthetic.js'

t.test('Platt recovers a and b of the logistic that generated the labels', async (t) => {
  const { scores, labels } = labelledScores(3, 20_000, -4, 4, (s) => sigmoid(1.5 * s - 0.8))
  const { a, b } = fitPlatt(scores, labels)
  near(t, a, 1.5, 0.06, 'a')
  near(t, b, -0.8, 0.06, 'b')
  near(t, applyPlatt({ a, b }, 1), sigmoid(0.7), 0.01, 'P(s = 1)')
})

t.test("Platt's smoothed targets", async (t) => {
  // 2 positives -> 3/4; 1 negative -> 1/3
  t.same(plattTargets([1, 1, 0]), [3 / 4, 3 / 4, 1 / 3])
})

t.test('separable data gives a finite fit with sensible probabilities', async (t) => {
  const scores = Array.from({ length: 30 }, (_, k) => (k - 14.5) / 5)
  const labels = scores.map((s) => (s > 0 ? 1 : 0)) as (0 | 1)[]
  const { a, b } = fitPlatt(scores, labels)
  t.ok(Number.isFinite(a) && Number.isFinite(b))
  t.ok(a > 0 && a < 10, `slope stays moderate: ${a}`)
  const top = applyPlatt({ a, b }, 2.9)
  t.ok(top > 0.9 && top < 0.999, `top score is confident but not certain: ${top}`)
  // Without smoothing the optimum is at infinity: the L2 guard keeps it finite even then.
  const hard = fitPlatt(scores, labels, { smoothTargets: false })
  t.ok(Number.isFinite(hard.a) && hard.a > a)
})

t.test('a constant score gives the smoothed base rate', async (t) => {
  const labels: (0 | 1)[] = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
  const { a, b } = fitPlatt(new Array(10).fill(0.42), labels)
  near(t, a, 0, 1e-9, 'a')
  // 2 positives -> 3/4, 8 negatives -> 1/10: mean target (2*0.75 + 8*0.1)/10 = 0.23
  near(t, applyPlatt({ a, b }, 0.42), 0.23, 1e-9, 'p')
})

t.test('the fit does not depend on the scale of the score', async (t) => {
  const { scores, labels } = labelledScores(8, 500, -4, 4, (s) => sigmoid(s))
  const small = fitPlatt(scores, labels)
  const large = fitPlatt(
    scores.map((s) => s * 1000 + 5000),
    labels,
  )
  near(t, applyPlatt(large, 1000 * 1.3 + 5000), applyPlatt(small, 1.3), 1e-6)
})

t.test('two-feature logistic recovers its weights', async (t) => {
  const random = mulberry32(17)
  const features: number[][] = []
  const labels: (0 | 1)[] = []
  for (let i = 0; i < 30_000; i++) {
    const x = [random() * 6 - 3, random() * 4]
    features.push(x)
    labels.push(bernoulli(random, sigmoid(1.2 * x[0]! - 0.7 * x[1]! + 0.5)))
  }
  const fit = fitLogistic(features, labels)
  near(t, fit.weights[0]!, 1.2, 0.06, 'w1')
  near(t, fit.weights[1]!, -0.7, 0.06, 'w2')
  near(t, fit.bias, 0.5, 0.1, 'bias')
  near(t, applyLogistic(fit, [0, 0]), sigmoid(fit.bias), 1e-12)
})

t.test('sigmoid and logit are stable at the extremes', async (t) => {
  t.equal(sigmoid(-800), 0)
  t.equal(sigmoid(800), 1)
  near(t, sigmoid(logit(0.3)), 0.3, 1e-12)
  t.ok(Number.isFinite(logit(0)) && Number.isFinite(logit(1)))
})

t.test('bad input is refused', async (t) => {
  t.throws(() => fitPlatt([1, 2], [1]), /2 and 1/)
  t.throws(() => fitPlatt([1, Number.NaN], [1, 0]), /finite/)
  t.throws(() => fitPlatt([], []), /0 and 0/)
})
