/**
 * Times building a DenseIndex from the first N vectors of the cached million-vector set, as the
 * product builds one (upsert in a loop). Run it with and without huge pages to compare:
 *
 *   for m in 0 1 0 1; do GLIBC_TUNABLES=glibc.malloc.hugetlb=$m npx tsx bench/million/build-time.ts --n 200000 --dims 192; done
 *
 * Needs bench-results/million/gemma.n1000000.q1000.s1.docs.f32 (made by npm run bench:million -- --model gemma).
 */
import { existsSync, openSync, readSync } from 'node:fs'
import path from 'node:path'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { parseCommand, positiveInt } from '../lib/args.js'
import { repoRoot } from '../lib/paths.js'
import { loadAverage, machineInfo } from '../lib/report.js'
import { Progress } from './measure.js'

const USAGE = 'usage: npx tsx bench/million/build-time.ts [--n 200000] [--dims 192] [--m 16] [--ef-construction 200]'
const values = parseCommand(USAGE, {
  n: { type: 'string', default: '200000' },
  dims: { type: 'string', default: '192' },
  m: { type: 'string', default: '16' },
  'ef-construction': { type: 'string', default: '200' },
})
const FULL_DIMS = 768
const file = path.join(repoRoot, 'bench-results/million/gemma.n1000000.q1000.s1.docs.f32')
if (!existsSync(file)) {
  process.stderr.write(`${file} is missing; make it with: npm run bench:million -- --model gemma --n 1000000\n`)
  process.exit(1)
}
const n = positiveInt('n', values.n)
const dims = positiveInt('dims', values.dims)
const docs = new Float32Array(n * FULL_DIMS)
readSync(openSync(file, 'r'), new Uint8Array(docs.buffer), 0, docs.byteLength, 0)
const index = DenseIndex.create({ dims, m: positiveInt('m', values.m), efConstruction: positiveInt('ef-construction', values['ef-construction']), efSearch: 64 }, n)
const progress = new Progress(`build ${dims} dims`, n)
const started = performance.now()
for (let i = 0; i < n; i++) {
  index.upsert(i, docs.subarray(i * FULL_DIMS, (i + 1) * FULL_DIMS))
  if (i % 10_000 === 9_999) progress.tick(i + 1)
}
const seconds = (performance.now() - started) / 1000
process.stdout.write(`${JSON.stringify({ n, dims, seconds: Math.round(seconds * 10) / 10, machine: machineInfo(), load: loadAverage() })}\n`)
