import t from 'tap'
import {
  applyIsotonic,
  DEFAULT_ISOTONIC_EPS,
  fitIsotonic,
  MIN_ISOTONIC_EXAMPLES,
  poolAdjacentViolators,
} from '../../src/calibration/isotonic.js'
import { labelledScores, near, sigmoid } from './synthetic.js'

t.test('pool-adjacent-violators on known sequences', async (t) => {
  t.same(poolAdjacentViolators([1, 3, 2, 4, 3, 5]), [1, 2.5, 2.5, 3.5, 3.5, 5])
  t.same(poolAdjacentViolators([4, 3, 2, 1]), [2.5, 2.5, 2.5, 2.5])
  // A late violator pulls an earlier pooled block down with it: (5, 3) -> 4, then 0 joins -> 8/3.
  t.same(poolAdjacentViolators([1, 5, 3, 0]), [1, 8 / 3, 8 / 3, 8 / 3])
  t.same(poolAdjacentViolators([0, 0.2, 0.2, 0.9]), [0, 0.2, 0.2, 0.9])
  t.same(poolAdjacentViolators([1, 0], [3, 1]), [0.75, 0.75])
  t.same(poolAdjacentViolators([]), [])
})

t.test('fit keeps block boundaries and interpolates between them', async (t) => {
  // Labels 0 1 0 0 1 1: the middle three pool to 1/3 over scores 2..4.
  const params = fitIsotonic([1, 2, 3, 4, 5, 6], [0, 1, 0, 0, 1, 1], { minExamples: 0 })
  t.same(params.x, [1, 2, 4, 5, 6])
  t.same(params.y, [0, 1 / 3, 1 / 3, 1, 1])
  t.equal(params.eps, DEFAULT_ISOTONIC_EPS)
  near(t, applyIsotonic(params, 3), 1 / 3, 1e-12, 'inside a flat block')
  near(t, applyIsotonic(params, 4.5), 2 / 3, 1e-12, 'halfway between blocks')
  near(t, applyIsotonic(params, 1.5), 1 / 6, 1e-12, 'halfway up from the first block')
  t.equal(applyIsotonic(params, -10), DEFAULT_ISOTONIC_EPS, 'clipped at the bottom')
  t.equal(applyIsotonic(params, 10), 1 - DEFAULT_ISOTONIC_EPS, 'clipped at the top')
})

t.test('tied scores get one value: the mean of their labels', async (t) => {
  const params = fitIsotonic([1, 2, 2, 3], [0, 1, 0, 1], { minExamples: 0, eps: 0 })
  t.same(params.x, [1, 2, 3])
  t.same(params.y, [0, 0.5, 1])
})

t.test(`isotonic refuses fewer than ${MIN_ISOTONIC_EXAMPLES} examples`, async (t) => {
  t.equal(MIN_ISOTONIC_EXAMPLES, 1000)
  const { scores, labels } = labelledScores(2, 1000, -3, 3, sigmoid)
  t.throws(() => fitIsotonic(scores.slice(1), labels.slice(1)), /needs at least 1000 labelled examples, got 999/)
  const params = fitIsotonic(scores, labels)
  const grid = Array.from({ length: 61 }, (_, k) => -3 + k / 10).map((s) => applyIsotonic(params, s))
  t.ok(
    grid.every((p, k) => k === 0 || p >= grid[k - 1]!),
    'predictions never decrease with the score',
  )
  t.ok(grid.every((p) => p >= DEFAULT_ISOTONIC_EPS && p <= 1 - DEFAULT_ISOTONIC_EPS))
})

t.test('bad input is refused', async (t) => {
  t.throws(() => fitIsotonic([1, 2], [1], { minExamples: 0 }), /2 and 1/)
  t.throws(() => fitIsotonic([1, Infinity], [1, 0], { minExamples: 0 }), /finite/)
  t.throws(() => applyIsotonic({ x: [0], y: [0.5], eps: 0 }, Number.NaN), /numbers/)
})
