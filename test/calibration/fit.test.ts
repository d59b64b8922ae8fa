import t from 'tap'
import {
  applyCalibrator,
  binarize,
  type CalibrationExample,
  fitCalibrator,
  MIN_CALIBRATION_EXAMPLES,
  MIN_EXAMPLES_PER_LABEL,
  parseCalibrator,
} from '../../src/calibration/fit.js'
import { MIN_ISOTONIC_EXAMPLES } from '../../src/calibration/isotonic.js'
import { calibrationSummary } from '../../src/calibration/metrics.js'
import { windowLogit } from '../../src/calibration/temperature.js'
import { bernoulli, labelledScores, mulberry32, near, sigmoid } from './synthetic.js'

const examplesFrom = ({ scores, labels }: { scores: number[]; labels: (0 | 1)[] }): CalibrationExample[] =>
  scores.map((score, i) => ({ score, label: labels[i]! }))

/** A step in relevance at 0 that no sigmoid fits well, but a monotone step function does. */
const stepData = (seed: number, n: number) => examplesFrom(labelledScores(seed, n, -3, 3, (s) => (s < 0 ? 0.15 : 0.85)))

t.test('too few labels are refused with the counts needed and given', async (t) => {
  t.equal(MIN_CALIBRATION_EXAMPLES, 20)
  t.equal(MIN_EXAMPLES_PER_LABEL, 5)
  const nineteen = Array.from({ length: 19 }, (_, i) => ({ score: i, label: (i % 2) as 0 | 1 }))
  t.throws(() => fitCalibrator(nineteen), {
    code: 'invalid_request',
    message: /at least 20 labelled examples with at least 5 of each label; got 19 \(9 relevant, 10 not relevant\)/,
  })
  const fewPositives = Array.from({ length: 40 }, (_, i) => ({ score: i, label: (i < 4 ? 1 : 0) as 0 | 1 }))
  t.throws(() => fitCalibrator(fewPositives), /got 40 \(4 relevant, 36 not relevant\)/)
  t.throws(() => fitCalibrator([]), /got none/)
})

t.test('labels must be exactly 0 or 1', async (t) => {
  const examples = stepData(1, 40) as { score: number; label: unknown }[]
  examples[3] = { score: 0.2, label: 2 }
  t.throws(() => fitCalibrator(examples as CalibrationExample[]), /examples\[3\]\.label: 2 is not allowed; labels must be 0 or 1; map graded labels with binarize/)
  examples[3] = { score: 0.2, label: true }
  t.throws(() => fitCalibrator(examples as CalibrationExample[]), /examples\[3\]\.label: true/)
})

t.test('binarize maps graded labels at a threshold', async (t) => {
  t.same(binarize([0, 1, 2, 3, 2.5], 2), [0, 0, 1, 1, 1])
  t.same(binarize([], 1), [])
  t.throws(() => binarize([1], Number.NaN), /threshold/)
  t.throws(() => binarize([1, Number.NaN], 1), /labels\[1\]/)
})

t.test(`isotonic is a candidate only from ${MIN_ISOTONIC_EXAMPLES} labelled examples`, async (t) => {
  const small = fitCalibrator(stepData(2, MIN_ISOTONIC_EXAMPLES - 1), { seed: 3 })
  t.equal(small.method, 'platt')
  t.same(
    small.candidates.map((c) => c.method),
    ['platt'],
  )
  t.match(small.reason, /isotonic skipped: it needs at least 1000 labelled examples, got 999/)

  const large = fitCalibrator(stepData(2, 3000), { seed: 3 })
  t.equal(large.method, 'isotonic', large.reason)
  t.same(
    large.candidates.map((c) => c.method),
    ['platt', 'isotonic'],
  )
  const platt = large.candidates.find((c) => c.method === 'platt')!
  const isotonic = large.candidates.find((c) => c.method === 'isotonic')!
  t.ok(isotonic.meanLogLoss < platt.meanLogLoss)
  t.match(large.reason, /^isotonic had the lowest mean held-out log-loss over 5 stratified folds/)

  t.throws(() => fitCalibrator(stepData(2, 500), { methods: ['isotonic'] }), /no requested method applies: isotonic skipped/)
})

t.test('Platt on miscalibrated logits: held-out metrics before and after', async (t) => {
  // A cross-encoder that is 3x overconfident and biased by +1.
  const examples = examplesFrom(labelledScores(4, 600, -6, 6, (s) => sigmoid((s - 1) / 3)))
  const fit = fitCalibrator(examples, { seed: 11 })
  t.equal(fit.method, 'platt')
  t.equal(fit.baseline, 'sigmoid')
  t.equal(fit.n, 600)
  t.equal(fit.positives, examples.filter((e) => e.label === 1).length)
  t.equal(fit.folds, 5)
  t.equal(fit.seed, 11)
  const { a, b } = fit.params as { a: number; b: number }
  near(t, a, 1 / 3, 0.08, 'a')
  near(t, b, -1 / 3, 0.25, 'b')
  t.ok(fit.heldOut.after.logLoss < fit.heldOut.before.logLoss)
  t.ok(fit.heldOut.after.ece < fit.heldOut.before.ece)
  t.ok(fit.heldOut.after.brier < fit.heldOut.before.brier)
  t.same(
    fit.heldOut.before,
    calibrationSummary(
      examples.map((e) => sigmoid(e.score as number)),
      examples.map((e) => e.label),
    ),
    '"before" is the plain sigmoid of the raw logit',
  )
  t.equal(fit.heldOut.reliability.after.reduce((s, b) => s + b.count, 0), 600)
})

t.test('"before" reads cosines as (s + 1) / 2 and probabilities as they are', async (t) => {
  const cosines = examplesFrom(labelledScores(5, 200, -0.9, 0.9, (s) => sigmoid(4 * s)))
  const fit = fitCalibrator(cosines)
  t.equal(fit.baseline, 'cosine')
  near(t, fit.heldOut.before.brier, calibrationSummary(cosines.map((e) => ((e.score as number) + 1) / 2), cosines.map((e) => e.label)).brier, 1e-15)
  const probabilities = examplesFrom(labelledScores(6, 200, 0, 1, (s) => s * s))
  t.equal(fitCalibrator(probabilities).baseline, 'identity')
  t.equal(fitCalibrator(probabilities, { rawScale: 'logit' }).baseline, 'sigmoid')
  t.throws(() => fitCalibrator(cosines, { rawScale: 'probability' }), /probability scores must lie in \[0, 1\]/)
})

t.test('folds are stratified, seeded and validated', async (t) => {
  // Exactly 5 positives and 5 folds: only a stratified split gives every fold a positive to score.
  const examples = Array.from({ length: 40 }, (_, i) => ({ score: i / 10, label: (i % 8 === 7 ? 1 : 0) as 0 | 1 }))
  const fit = fitCalibrator(examples, { seed: 1 })
  t.ok(Number.isFinite(fit.heldOut.after.logLoss))
  const again = fitCalibrator(examples, { seed: 1 })
  t.same(again, fit, 'same seed, same result')
  const data = stepData(7, 300)
  t.not(fitCalibrator(data, { seed: 1 }).candidates[0]!.meanLogLoss, fitCalibrator(data, { seed: 2 }).candidates[0]!.meanLogLoss)
  t.throws(() => fitCalibrator(examples, { folds: 1 }), /folds: 1 is not allowed; must be an integer from 2 to 5/)
  t.throws(() => fitCalibrator(examples, { folds: 6 }), /from 2 to 5 \(the size of the smaller label class\)/)
  t.throws(() => fitCalibrator(examples, { methods: ['beta' as 'platt'] }), /methods: "beta" is not allowed; valid methods: platt, temperature, listwise, isotonic/)
})

/** Listwise windows of 8 with final ranks; relevance follows the window log-odds and the rank. */
function listwiseExamples(seed: number, windows: number): CalibrationExample[] {
  const random = mulberry32(seed)
  const out: CalibrationExample[] = []
  for (let w = 0; w < windows; w++) {
    const logits = Array.from({ length: 8 }, () => random() * 8 - 4)
    const offset = (w % 3) * 8
    const order = logits.map((_, i) => i).sort((a, b) => logits[b]! - logits[a]!)
    order.forEach((index, position) => {
      const rank = offset + position + 1
      out.push({ score: logits, index, rank, label: bernoulli(random, sigmoid(windowLogit(logits, index, 2) - 0.6 * Math.log(rank) + 0.5)) })
    })
  }
  return out
}

t.test('window logits: temperature, listwise and platt compete; listwise wins when rank matters', async (t) => {
  const examples = listwiseExamples(8, 110) // 880 examples: below the isotonic floor
  const fit = fitCalibrator(examples, { seed: 5 })
  t.equal(fit.baseline, 'window-softmax')
  t.same(
    fit.candidates.map((c) => c.method),
    ['platt', 'temperature', 'listwise'],
  )
  t.equal(fit.method, 'listwise', fit.reason)
  t.ok(fit.heldOut.after.ece < fit.heldOut.before.ece)
  const first = examples[0]!
  const p = applyCalibrator(fit.calibrator, first.score, first)
  t.ok(p > 0 && p < 1)
  t.throws(() => applyCalibrator(fit.calibrator, first.score, { index: first.index }), /needs the candidate's final 1-based rank/)
  t.throws(() => applyCalibrator(fit.calibrator, 0.3), /fitted on window logits; got a single number/)

  const withoutRank = examples.map(({ score, index, label }) => ({ score, index, label }))
  const temperatureFit = fitCalibrator(withoutRank, { methods: ['temperature', 'listwise'] })
  t.equal(temperatureFit.method, 'temperature')
  t.match(temperatureFit.reason, /listwise skipped: it needs every example to carry its final rank/)
  t.throws(() => fitCalibrator(examples.map((e, i) => (i === 3 ? { score: 0.5, label: e.label } : e))), /not a mix/)
  t.throws(() => fitCalibrator(examples.map((e, i) => (i === 3 ? { ...e, index: 8 } : e))), /examples\[3\]\.index: 8 is not allowed/)
})

t.test('window log-odds as scalars (the listwise stage scores.listwise): the listwise method reads them with the rank', async (t) => {
  const windows = listwiseExamples(8, 160) // 1,280 examples
  const examples = windows.map((e) => ({ score: windowLogit(e.score as number[], e.index!), rank: e.rank!, label: e.label }))
  const fit = fitCalibrator(examples, { seed: 5, methods: ['platt', 'listwise', 'isotonic'], rawScale: 'rank' })
  t.equal(fit.baseline, 'rank')
  t.same(fit.candidates.map((c) => c.method), ['platt', 'listwise', 'isotonic'], 'temperature is not offered for scalars; listwise is')
  t.equal(fit.method, 'listwise', fit.reason)
  t.equal(fit.calibrator.method === 'listwise' && fit.calibrator.params.temperature, 1, 'log-odds are already at T = 1')
  t.ok(fit.heldOut.after.ece < fit.heldOut.before.ece, 'better calibrated than reading 1 / rank')
  const before = examples.map((e) => 1 / e.rank)
  t.same(fit.heldOut.reliability.before.reduce((s, b) => s + b.count, 0), examples.length)
  t.ok(Math.abs(fit.heldOut.before.brier - before.reduce((s, p, i) => s + (p - examples[i]!.label) ** 2, 0) / examples.length) < 1e-12, "the 'rank' baseline is 1 / rank")

  // The same candidate gets the same probability from its log-odds as from its window's logits at T = 1.
  const first = windows[0]!
  const p = applyCalibrator(fit.calibrator, examples[0]!.score, { rank: first.rank! })
  t.ok(Math.abs(p - applyCalibrator(fit.calibrator, first.score, first)) < 1e-12)
  t.ok(applyCalibrator(fit.calibrator, 2, { rank: 1 }) > applyCalibrator(fit.calibrator, 2, { rank: 30 }), 'rank lowers it')
  t.throws(() => applyCalibrator(fit.calibrator, 2), /needs the candidate's final 1-based rank/)
  t.throws(() => applyCalibrator(fit.calibrator, Number.NaN, { rank: 1 }), /window log-odds must be finite/)

  t.match(fitCalibrator(examples, { seed: 5, methods: ['temperature', 'platt'] }).reason, /temperature skipped: it needs window logits/)
  t.throws(() => fitCalibrator(examples.map(({ score, label }) => ({ score, label })), { rawScale: 'rank' }), /examples\[0\]\.rank: the 'rank' raw scale reads 1 \/ rank/)
})

t.test('the serialised calibrator round-trips through JSON and is validated', async (t) => {
  const fit = fitCalibrator(stepData(9, 200), { seed: 2 })
  t.same(Object.keys(fit.calibrator).sort(), ['method', 'params', 'version'])
  t.equal(fit.calibrator.version, 1)
  const loaded = parseCalibrator(JSON.parse(JSON.stringify(fit.calibrator)))
  for (const s of [-2, -0.1, 0, 0.4, 2.5]) t.equal(applyCalibrator(loaded, s), applyCalibrator(fit.calibrator, s))
  t.throws(() => parseCalibrator({ ...fit.calibrator, version: 2 }), /calibrator\.version: 2 is not allowed; supported versions: 1/)
  t.throws(() => parseCalibrator({ ...fit.calibrator, method: 'beta' }), /valid methods: platt, temperature, listwise, isotonic/)
  t.throws(() => parseCalibrator({ version: 1, method: 'platt', params: { input: 'scalar', a: 'x', b: 0 } }), /calibrator\.params\.a/)
  t.throws(() => parseCalibrator(null), /version/)
  t.throws(() => applyCalibrator(fit.calibrator, [1, 2], { index: 0 }), /fitted on scalar scores/)

  const iso = fitCalibrator(stepData(9, 1500), { seed: 2 })
  t.equal(iso.method, 'isotonic')
  const isoLoaded = parseCalibrator(JSON.parse(JSON.stringify(iso.calibrator)))
  t.equal(applyCalibrator(isoLoaded, 1.234), applyCalibrator(iso.calibrator, 1.234))
  near(t, applyCalibrator(isoLoaded, 2), 0.85, 0.05, 'isotonic finds the upper step')
  near(t, applyCalibrator(isoLoaded, -2), 0.15, 0.05, 'isotonic finds the lower step')
})
