/**
 * The funnel's rescoring kernels side by side in one run: the scalar JavaScript dot products
 * (dotAt, dotFloat16, dotInt8Codes) against the WebAssembly SIMD ones (simdDot), over the same
 * shortlist of rows picked at random from N rows, as RescoreVectors scores an HNSW shortlist.
 *
 *   npx tsx bench/retrieval/dot-kernels.ts [--dims 768] [--shortlist 400] [--rows 50000] [--rounds 3]
 */
import { mulberry32 } from '../../src/calibration/fit.js'
import { dotFloat16, dotInt8Codes, encodeHalf, encodeInt8 } from '../../src/retrieval/compact-vectors.js'
import { simdDot } from '../../src/retrieval/simd-dot.js'
import { dotAt } from '../../src/retrieval/vector-math.js'
import { parseCommand, positiveInt } from '../lib/args.js'
import { machineInfo, markdownTable } from '../lib/report.js'

const USAGE = 'usage: npx tsx bench/retrieval/dot-kernels.ts [--dims 768] [--shortlist 400] [--rows 50000] [--rounds 3]'
const values = parseCommand(USAGE, {
  dims: { type: 'string', default: '768' },
  shortlist: { type: 'string', default: '400' },
  rows: { type: 'string', default: '50000' },
  rounds: { type: 'string', default: '3' },
})
const dims = positiveInt('dims', values.dims)
const shortlist = positiveInt('shortlist', values.shortlist)
const n = positiveInt('rows', values.rows)
const rounds = positiveInt('rounds', values.rounds)

const uniform = mulberry32(1)
const next = (): number => uniform() - 0.5
const f32 = Float32Array.from({ length: n * dims }, next)
const f16 = new Uint16Array(n * dims)
encodeHalf(f32, f16, 0)
const i8 = new Int8Array(n * dims)
for (let r = 0; r < n; r++) encodeInt8(f32.subarray(r * dims, (r + 1) * dims), i8, r * dims)
const query = Float32Array.from({ length: dims }, next)
const offsets = Array.from({ length: shortlist }, () => Math.floor((next() + 0.5) * n) * dims)
const out = new Float32Array(shortlist)
let sink = 0

/** Mean ms per shortlist over 200 repetitions, after 20 of warm-up. */
function time(fn: () => void): number {
  for (let k = 0; k < 20; k++) fn()
  const started = performance.now()
  for (let k = 0; k < 200; k++) fn()
  return (performance.now() - started) / 200
}

const rows: string[][] = []
for (let round = 1; round <= rounds; round++) {
  const cells = [
    time(() => offsets.forEach((o) => (sink += dotAt(query, 0, f32, o, dims)))),
    time(() => simdDot().score(query, dims, f32, offsets, dims, out)),
    time(() => offsets.forEach((o) => (sink += dotFloat16(query, f16, o, dims)))),
    time(() => simdDot().score(query, dims, f16, offsets, dims, out)),
    time(() => offsets.forEach((o) => (sink += dotInt8Codes(query, i8, o, dims)))),
    time(() => simdDot().score(query, dims, i8, offsets, dims, out)),
  ]
  rows.push([String(round), ...cells.map((c) => c.toFixed(3)), `${(cells[2]! / cells[3]!).toFixed(1)}×`])
}
process.stdout.write(
  `\n${shortlist} rows of ${dims} dims picked from ${n}, ms per shortlist (${machineInfo().cpu}, ${machineInfo().node}; sink ${sink.toFixed(0)})\n\n` +
    markdownTable(['round', 'float32 scalar', 'float32 SIMD', 'float16 scalar', 'float16 SIMD', 'int8 scalar', 'int8 SIMD', 'float16 SIMD gain'], rows) +
    '\n',
)
