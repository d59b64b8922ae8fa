import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { AVX2_ADDON, chooseVariant, cpuFlags, hnswlib, type HnswlibBinding } from '../../src/retrieval/hnswlib-binding.js'

// The AVX2 copy of hnswlib's addon (built by npm ci's postinstall) is loaded only where the CPU can run
// it, and it must be interchangeable with the SSE build: same index files, same neighbours.

t.test('the AVX2 addon is chosen only when built, allowed, and the CPU has avx2 and fma', async (t) => {
  const all = new Set(['sse4_2', 'avx', 'avx2', 'fma'])
  t.same(chooseVariant({ flags: all, avx2Built: true, setting: undefined }).variant, 'avx2')
  t.match(chooseVariant({ flags: all, avx2Built: true, setting: 'off' }), { variant: 'sse', reason: /FUNNEL_HNSWLIB_AVX2=off/ })
  t.match(chooseVariant({ flags: all, avx2Built: false, setting: undefined }), { variant: 'sse', reason: /no AVX2 addon/ })
  t.match(chooseVariant({ flags: new Set(['sse4_2', 'avx']), avx2Built: true, setting: undefined }), { variant: 'sse', reason: /lacks avx2 and fma/ })
  t.match(chooseVariant({ flags: new Set(['avx2']), avx2Built: true, setting: undefined }), { variant: 'sse', reason: /lacks fma/ })
})

t.test('CPU flags are read from the first core of /proc/cpuinfo', async (t) => {
  const cpuinfo = 'processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse4_2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n'
  t.same([...cpuFlags(cpuinfo)], ['fpu', 'sse4_2', 'avx2', 'fma'])
  t.same([...cpuFlags('')], [], 'no cpuinfo (not Linux): no flags, so the SSE addon')
})

const avx2File = path.resolve(AVX2_ADDON)
const noAvx2 = existsSync(avx2File) ? false : `no AVX2 addon at ${AVX2_ADDON} (npm ci builds it on x64 Linux only)`

t.test('the AVX2 and SSE addons read each other\'s index files and find the same neighbours', { skip: noAvx2 }, async (t) => {
  const require = createRequire(import.meta.url)
  const sse = require('hnswlib-node') as HnswlibBinding
  const avx2 = require(avx2File) as HnswlibBinding
  t.equal(hnswlib.variant, cpuFlags().has('avx2') && cpuFlags().has('fma') && process.env.FUNNEL_HNSWLIB_AVX2 !== 'off' ? 'avx2' : 'sse', 'the product loaded the addon this CPU allows')
  let state = 9
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5
  const dims = 96
  const vectors = Array.from({ length: 3000 }, () => Array.from({ length: dims }, next))
  const queries = Array.from({ length: 50 }, () => Array.from({ length: dims }, next))
  const dir = mkdtempSync(path.join(os.tmpdir(), 'funnel-hnswlib-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const built = new avx2.HierarchicalNSW('ip', dims)
  built.initIndex({ maxElements: vectors.length, m: 16, efConstruction: 100, randomSeed: 100 })
  vectors.forEach((v, i) => built.addPoint(v, i))
  built.writeIndexSync(path.join(dir, 'avx2.hnsw'))
  const [a, b] = [avx2, sse].map((binding) => {
    const index = new binding.HierarchicalNSW('ip', dims)
    index.readIndexSync(path.join(dir, 'avx2.hnsw'))
    index.setEf(64)
    return queries.map((q) => index.searchKnn(q, 10))
  })
  let same = 0
  let worst = 0
  a!.forEach((r, i) => {
    if (r.neighbors.join() === b![i]!.neighbors.join()) same++
    r.distances.forEach((d, j) => (worst = Math.max(worst, Math.abs(d - b![i]!.distances[j]!))))
  })
  t.equal(same, queries.length, `the SSE addon read the AVX2-built file and found the same 10 neighbours for ${same}/${queries.length} queries`)
  t.ok(worst < 1e-5, `distances agree to ${worst.toExponential(1)}`)
})
