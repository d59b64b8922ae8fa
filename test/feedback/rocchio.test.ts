import t, { type Test } from 'tap'
import { rocchio } from '../../src/feedback/rocchio.js'

const v = (...xs: number[]) => Float32Array.from(xs)
const near = (t: Test, actual: Float32Array, expected: number[], msg: string) => {
  const worst = Math.max(...expected.map((x, i) => Math.abs(x - actual[i]!)))
  t.ok(worst < 1e-6 && actual.length === expected.length, `${msg}: [${Array.from(actual).map((x) => x.toFixed(6))}]`)
}

t.test('alpha q + beta mean(relevant) - gamma mean(nonRelevant), renormalised', async (t) => {
  const query = v(1, 0, 0)
  // 1 x (1,0,0) + 0.5 x mean((0,1,0), (0,0,1)) - 0.25 x (1,0,0) = (0.75, 0.25, 0.25); norm = sqrt(0.6875)
  const out = rocchio(query, [v(0, 1, 0), v(0, 0, 1)], [v(1, 0, 0)], { alpha: 1, beta: 0.5, gamma: 0.25 })
  const n = Math.sqrt(0.6875)
  near(t, out, [0.75 / n, 0.25 / n, 0.25 / n], 'hand-computed')
  t.type(out, Float32Array)
  near(t, query, [1, 0, 0], 'the query is not modified')
})

t.test('defaults, empty sets and unit length', async (t) => {
  near(t, rocchio(v(3, 4), [], []), [0.6, 0.8], 'no feedback: the normalised query')
  // defaults 1, 0.75, 0.15: (0,1) + 0.75 (1,0) - 0.15 (0,1) = (0.75, 0.85)
  const out = rocchio(v(0, 1), [v(1, 0)], [v(0, 1)])
  const n = Math.hypot(0.75, 0.85)
  near(t, out, [0.75 / n, 0.85 / n], 'SMART defaults')
  t.ok(Math.abs(Math.hypot(...out) - 1) < 1e-6, 'unit length')
})

t.test('bad input throws', async (t) => {
  t.throws(() => rocchio(v(1, 0), [v(1, 0, 0)], []), { code: 'invalid_request', message: /relevant\[0\]: has 3 dimensions/ })
  t.throws(() => rocchio(v(1, 0), [], [v(1)]), { code: 'invalid_request' })
  t.throws(() => rocchio(v(1, 0), [], [v(1, 0)], { gamma: 1 }), { code: 'invalid_request', message: /zero/ })
  t.throws(() => rocchio(v(1, 0), [], [], { beta: Number.NaN }), { code: 'invalid_value' })
})
