import t from 'tap'
import { expectedCalibrationError, logLoss } from '../../src/calibration/metrics.js'
import {
  applyListwiseCalibrator,
  applyPointwiseTemperature,
  fitListwiseCalibrator,
  fitPointwiseTemperature,
  fitTemperature,
  type ListwiseExample,
  TEMPERATURE_BOUNDS,
  WINDOW_LOGIT_LIMIT,
  windowLogit,
  windowLogProbability,
  windowProbability,
} from '../../src/calibration/temperature.js'
import { bernoulli, mulberry32, near, sigmoid, softmax } from './synthetic.js'

/** Windows of `size` logits uniform in [-3, 3), the correct one drawn from softmax(z / temperature). */
function categoricalWindows(seed: number, count: number, size: number, temperature: number) {
  const random = mulberry32(seed)
  return Array.from({ length: count }, () => {
    const logits = Array.from({ length: size }, () => random() * 6 - 3)
    const p = softmax(logits, temperature)
    let u = random()
    let target = size - 1
    for (let k = 0; k < size; k++) {
      u -= p[k]!
      if (u < 0) {
        target = k
        break
      }
    }
    return { logits, target }
  })
}

t.test('window probabilities and log-odds', async (t) => {
  const logits = [2, 0.5, -1]
  const p = logits.map((_, i) => windowProbability(logits, i, 1.5))
  near(t, p.reduce((a, b) => a + b, 0), 1, 1e-12, 'softmax sums to 1')
  t.same(
    p.map((v) => Math.round(v * 1e12)),
    softmax(logits, 1.5).map((v) => Math.round(v * 1e12)),
  )
  near(t, windowLogit(logits, 0, 1.5), Math.log(p[0]! / (1 - p[0]!)), 1e-12, 'log-odds')
  near(t, windowLogProbability([1000, 0], 1), -1000, 1e-9, 'no overflow on large logits')
  t.equal(windowLogit([0, 0], 0), 0)
  t.equal(windowLogit([80, 0, 0], 0), WINDOW_LOGIT_LIMIT, 'clipped above')
  t.equal(windowLogit([7], 0), WINDOW_LOGIT_LIMIT, 'a window of one is certain, clipped')
  t.throws(() => windowLogit([1, 2], 2), /from 0 to 1/)
  t.throws(() => windowLogit([], 0), /at least one logit/)
})

t.test('categorical temperature scaling recovers T', async (t) => {
  for (const trueT of [0.5, 2]) {
    const { temperature } = fitTemperature(categoricalWindows(trueT === 2 ? 1 : 2, 10_000, 5, trueT))
    near(t, temperature, trueT, 0.06 * trueT, `T = ${trueT}`)
  }
})

t.test('pointwise temperature scaling recovers T from 0/1 labels', async (t) => {
  const random = mulberry32(4)
  const windows = Array.from({ length: 6000 }, () => Array.from({ length: 4 }, () => random() * 8 - 4))
  const trueT = 1.7
  const labelled = windows.flatMap((logits) =>
    logits.map((_, index) => ({ logits, index, label: bernoulli(random, softmax(logits, trueT)[index]!) })),
  )
  const { temperature } = fitPointwiseTemperature(labelled)
  near(t, temperature, trueT, 0.1, 'T')
  near(t, applyPointwiseTemperature({ temperature }, [1, 0], 0), sigmoid(1 / temperature), 1e-12)
})

t.test('T stays inside its bounds when the logits are perfectly or not at all informative', async (t) => {
  const decisive = Array.from({ length: 50 }, (_, k) => ({ logits: [k % 3, 5 + (k % 3), -2], target: 1 }))
  const { temperature } = fitTemperature(decisive)
  t.ok(temperature >= TEMPERATURE_BOUNDS.min && temperature < 0.02, `perfectly separating logits hit the lower bound: ${temperature}`)
  const random = mulberry32(9)
  const noise = Array.from({ length: 400 }, () => ({ logits: [random() * 10, random() * 10], target: random() < 0.5 ? 0 : 1 }))
  t.ok(fitTemperature(noise).temperature > 20, 'uninformative logits get a high temperature')
})

/**
 * Listwise data: queries of 30 candidates in 3 windows of 10; relevance depends on the window log-odds
 * at T = 1.5 and on the final rank, the way the listwise calibrator models it.
 */
function listwiseData(seed: number, queries: number): ListwiseExample[] {
  const random = mulberry32(seed)
  const out: ListwiseExample[] = []
  for (let q = 0; q < queries; q++) {
    for (let w = 0; w < 3; w++) {
      const logits = Array.from({ length: 10 }, () => random() * 8 - 4)
      const order = logits.map((_, i) => i).sort((a, b) => logits[b]! - logits[a]!)
      order.forEach((index, position) => {
        const rank = w * 10 + position + 1
        const p = sigmoid(0.8 * windowLogit(logits, index, 1.5) - 0.5 * Math.log(rank) + 0.3)
        out.push({ logits, index, rank, label: bernoulli(random, p) })
      })
    }
  }
  return out
}

t.test('listwise calibration: window log-odds plus log(rank)', async (t) => {
  const train = listwiseData(21, 300)
  const test = listwiseData(22, 300)
  const params = fitListwiseCalibrator(train)
  t.ok(params.weights[1] < 0, `probability falls with rank: w2 = ${params.weights[1]}`)
  const labels = test.map((e) => e.label)
  const listwise = test.map((e) => applyListwiseCalibrator(params, e.logits, e.index, e.rank))
  const temperatureOnly = fitPointwiseTemperature(train)
  const pointwise = test.map((e) => applyPointwiseTemperature(temperatureOnly, e.logits, e.index))
  t.ok(expectedCalibrationError(listwise, labels) < 0.03, `held-out ECE ${expectedCalibrationError(listwise, labels)}`)
  t.ok(logLoss(listwise, labels) < logLoss(pointwise, labels), 'rank adds information the window softmax lacks')
  const sameLogits = test[0]!
  t.ok(
    applyListwiseCalibrator(params, sameLogits.logits, sameLogits.index, 1) >
      applyListwiseCalibrator(params, sameLogits.logits, sameLogits.index, 20),
  )
  t.throws(() => applyListwiseCalibrator(params, [1, 2], 0, 0), /rank: 0 is not allowed/)
})
