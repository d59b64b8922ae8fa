import { readFileSync } from 'node:fs'
import t from 'tap'
import { renderKernelsModule } from '../../scripts/build-wasm.js'
import { mulberry32 } from '../../src/calibration/fit.js'
import { dotFloat16, dotInt8Codes, encodeHalf, encodeInt8, fromHalf, squaredNormFloat16, squaredNormInt8 } from '../../src/retrieval/compact-vectors.js'
import { simdDot } from '../../src/retrieval/simd-dot.js'
import { dotAt } from '../../src/retrieval/vector-math.js'

// The WebAssembly SIMD kernels that score the funnel's shortlist (float16 and int8 rows): they must
// decode every half exactly, agree with the scalar loops on any dims (eight lanes, then a tail), and
// the committed module must be what the .wat compiles to.

/** Seeded uniform values in [-0.5, 0.5). */
function seeded(seed: number): () => number {
  const uniform = mulberry32(seed)
  return () => uniform() - 0.5
}

t.test('the committed module is what dot-kernels.wat compiles to', async (t) => {
  const committed = readFileSync(new URL('../../src/retrieval/wasm/dot-kernels.wasm.ts', import.meta.url), 'utf8')
  t.equal(committed, await renderKernelsModule(), 'run npm run build:wasm after editing the .wat')
})

t.test('every finite half decodes exactly, in each of the eight SIMD lanes and in the scalar tail', async (t) => {
  const finite = Array.from({ length: 65536 }, (_, h) => h).filter((h) => ((h >>> 10) & 0x1f) !== 0x1f)
  const rowLength = 9 // eight lanes, then one element of tail
  const rows = new Uint16Array(finite.length * rowLength)
  finite.forEach((h, k) => {
    rows[k * rowLength + (k % rowLength)] = h
  })
  const ones = new Float32Array(rowLength).fill(1)
  const out = new Float32Array(finite.length)
  simdDot().score(ones, rowLength, rows, finite.map((_, k) => k * rowLength), rowLength, out)
  const wrong = finite.filter((h, k) => out[k] !== Math.fround(fromHalf(h)) && !(out[k] === 0 && fromHalf(h) === 0))
  t.same(wrong.slice(0, 5), [], `${finite.length} finite halves, ${wrong.length} decoded differently`)
})

t.test('float32, float16 and int8 dot products agree with the scalar loops at any dims and shortlist length', async (t) => {
  const next = seeded(5)
  for (const [dims, n, count] of [[5, 5, 3], [8, 8, 1], [13, 13, 40], [384, 384, 600], [771, 771, 20], [768, 192, 300]] as const) {
    const values = Float32Array.from({ length: 800 * dims }, next)
    const half = new Uint16Array(values.length)
    encodeHalf(values, half, 0)
    const codes = new Int8Array(values.length)
    for (let r = 0; r < 800; r++) encodeInt8(values.subarray(r * dims, (r + 1) * dims), codes, r * dims)
    const query = Float32Array.from({ length: dims }, next)
    const offsets = Array.from({ length: count }, () => Math.floor((next() + 0.5) * 800) * dims)
    const out = new Float32Array(count)
    const queryNorm = Math.sqrt(dotAt(query, 0, query, 0, n))
    for (const [name, rows, reference, rowNorm2] of [
      ['float32', values, (o: number) => dotAt(query, 0, values, o, n), (o: number) => dotAt(values, o, values, o, n)],
      ['float16', half, (o: number) => dotFloat16(query, half, o, n), (o: number) => squaredNormFloat16(half, o, n)],
      ['int8', codes, (o: number) => dotInt8Codes(query, codes, o, n), (o: number) => squaredNormInt8(codes, o, n)],
    ] as const) {
      out.fill(Number.NaN)
      simdDot().score(query, n, rows, offsets, dims, out)
      let worst = 0
      offsets.forEach((o, k) => {
        const want = reference(o)
        // The difference on the scale of a cosine: relative to |query| |row|, the largest the dot could be.
        worst = Math.max(worst, Math.abs(out[k]! - want) / (queryNorm * Math.sqrt(rowNorm2(o))))
      })
      t.ok(worst < 1e-6, `${name}, ${count} rows of ${dims} scored over ${n}: worst difference ${worst.toExponential(1)} of |q| |row|`)
    }
  }
})
