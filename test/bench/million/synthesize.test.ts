import t from 'tap'
import { DEFAULT_MIXTURE, perDimensionStd, seededGaussian, seededUniform, synthesizeInto, synthesizeVectors } from '../../../bench/million/synthesize.js'

const norm = (v: Float32Array, from: number, dims: number): number => Math.hypot(...v.subarray(from, from + dims))

t.test('seededUniform: the same seed gives the same stream, in [0, 1)', async (t) => {
  const a = seededUniform(42)
  const b = seededUniform(42)
  const draws = Array.from({ length: 1000 }, () => a())
  t.same(draws, Array.from({ length: 1000 }, () => b()))
  t.ok(draws.every((x) => x >= 0 && x < 1))
  t.not(seededUniform(43)(), draws[0], 'another seed, another stream')
})

t.test('seededGaussian: mean near 0 and variance near 1', async (t) => {
  const g = seededGaussian(seededUniform(7))
  const xs = Array.from({ length: 20_000 }, () => g())
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length
  t.ok(Math.abs(mean) < 0.03, `mean ${mean}`)
  t.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`)
})

t.test('perDimensionStd: the sample standard deviation of each column', async (t) => {
  const rows = Float32Array.from([1, 10, 3, 10, 5, 10])
  const std = perDimensionStd(rows, 2)
  t.ok(Math.abs(std[0]! - 2) < 1e-6, `column 0: ${std[0]}`)
  t.equal(std[1], 0)
  t.throws(() => perDimensionStd(Float32Array.from([1, 2]), 2), /at least 2 rows/)
})

t.test('synthesizeVectors: unit vectors, deterministic, and the same in chunks as in one go', async (t) => {
  const g = seededGaussian(seededUniform(1))
  const real = Float32Array.from({ length: 50 * 8 }, () => g())
  const whole = synthesizeVectors(real, 8, 30, DEFAULT_MIXTURE, 5)
  t.same(whole, synthesizeVectors(real, 8, 30, DEFAULT_MIXTURE, 5))
  for (let r = 0; r < 30; r++) t.ok(Math.abs(norm(whole, r * 8, 8) - 1) < 1e-5, `row ${r} is unit length`)
  const chunked = new Float32Array(30 * 8)
  const std = perDimensionStd(real, 8)
  synthesizeInto(chunked, real, std, DEFAULT_MIXTURE, 5, 0, 12)
  synthesizeInto(chunked, real, std, DEFAULT_MIXTURE, 5, 12, 18)
  t.same(chunked, whole)
  t.notSame(synthesizeVectors(real, 8, 30, DEFAULT_MIXTURE, 6), whole, 'another seed, other vectors')
})

t.test('synthesizeVectors: without noise or a second vector, each row is a real row normalised', async (t) => {
  const real = Float32Array.from([3, 4, 0, 0, 0, 2])
  const out = synthesizeVectors(real, 3, 10, { primary: 1, secondary: 0, noise: 0 }, 9)
  for (let r = 0; r < 10; r++) {
    const row = Array.from(out.subarray(r * 3, r * 3 + 3)).map((x) => Math.round(x * 1000) / 1000)
    t.ok(JSON.stringify(row) === '[0.6,0.8,0]' || JSON.stringify(row) === '[0,0,1]', `row ${r}: ${row}`)
  }
})

t.test('synthesizeVectors: noise follows the real per-dimension spread', async (t) => {
  // Real rows vary only in dimension 0; noise-only mixing must leave the other dimensions at zero.
  const real = Float32Array.from([1, 0, -1, 0, 2, 0])
  const out = synthesizeVectors(real, 2, 20, { primary: 0, secondary: 0, noise: 1 }, 3)
  for (let r = 0; r < 20; r++) t.equal(out[r * 2 + 1], 0, `row ${r} has no noise in the constant dimension`)
})
