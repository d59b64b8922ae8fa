/**
 * hnswlib-node as npm builds it against a copy compiled with AVX flags: the same saved index, the
 * same queries, search time per query. hnswlib picks its AVX/AVX-512 distance kernels at compile time
 * (`#ifdef __AVX__`), and node-gyp compiles it without -mavx, so the npm build runs SSE kernels only.
 *
 *   # a copy built with AVX-512 (the addon needs node-addon-api, bindings, file-uri-to-path beside it)
 *   cp -r node_modules/hnswlib-node /tmp/hnsw-avx && mkdir /tmp/hnsw-avx/node_modules
 *   cp -r node_modules/{node-addon-api,bindings,file-uri-to-path} /tmp/hnsw-avx/node_modules/
 *   (cd /tmp/hnsw-avx && rm -rf build && CXXFLAGS="-mavx2 -mfma -mavx512f" node /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=/usr)
 *   npx tsx bench/million/hnsw-simd.ts --other /tmp/hnsw-avx --dims 192,768 --n 50000
 *
 * Vectors are seeded uniform noise, L2-normalised (distance kernels cost the same whatever the data);
 * builds use the other copy (identical file format), searches alternate between the two builds.
 */
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseCommand, positiveInt } from '../lib/args.js'

const USAGE = 'usage: npx tsx bench/million/hnsw-simd.ts --other DIR [--dims 192,768] [--n 50000] [--queries 300] [--rounds 2]'

interface Hnsw {
  initIndex(max: number, m: number, efConstruction: number, seed: number): void
  addPoint(v: number[], label: number): void
  writeIndexSync(file: string): void
  readIndexSync(file: string): void
  setEf(ef: number): void
  searchKnn(q: number[], k: number): { neighbors: number[] }
}
type HnswClass = new (space: string, dims: number) => Hnsw

const require = createRequire(import.meta.url)
const values = parseCommand(USAGE, {
  other: { type: 'string' },
  dims: { type: 'string', default: '192,768' },
  n: { type: 'string', default: '50000' },
  queries: { type: 'string', default: '300' },
  rounds: { type: 'string', default: '2' },
})
if (values.other === undefined) throw new Error(USAGE)
const builds: [string, HnswClass][] = [
  ['npm build (SSE)', (require('hnswlib-node') as { HierarchicalNSW: HnswClass }).HierarchicalNSW],
  [`${values.other}`, (require(path.resolve(values.other)) as { HierarchicalNSW: HnswClass }).HierarchicalNSW],
]
const n = positiveInt('n', values.n)
const queries = positiveInt('queries', values.queries)
const rounds = positiveInt('rounds', values.rounds)

function vectors(seed: number, count: number, dims: number): number[][] {
  let s = seed
  const next = () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 4294967296 - 0.5
  }
  return Array.from({ length: count }, () => {
    const v = Array.from({ length: dims }, next)
    const norm = Math.hypot(...v)
    return v.map((x) => x / norm)
  })
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'hnsw-simd-'))
try {
  console.log('| dims | k | ef | build | ms per query (each round) |')
  console.log('|---|---|---|---|---|')
  for (const dims of values.dims.split(',').map((d) => positiveInt('dims', d))) {
    const file = path.join(dir, `i${dims}.bin`)
    const builder = new builds[1]![1]('ip', dims)
    builder.initIndex(n, 16, 100, 1)
    vectors(7, n, dims).forEach((v, i) => builder.addPoint(v, i))
    builder.writeIndexSync(file)
    const qs = vectors(99, queries, dims)
    const loaded = builds.map(([name, Cls]) => {
      const index = new Cls('ip', dims)
      index.readIndexSync(file)
      return [name, index] as const
    })
    for (const [k, ef] of [[10, 128], [400, 400]] as const) {
      const times = new Map<string, string[]>()
      for (let round = 0; round < rounds; round++) {
        for (const [name, index] of loaded) {
          index.setEf(ef)
          for (const q of qs.slice(0, 30)) index.searchKnn(q, k)
          const started = process.hrtime.bigint()
          for (const q of qs) index.searchKnn(q, k)
          const ms = Number(process.hrtime.bigint() - started) / 1e6 / qs.length
          times.set(name, [...(times.get(name) ?? []), ms.toFixed(3)])
        }
      }
      for (const [name, list] of times) console.log(`| ${dims} | ${k} | ${ef} | ${name} | ${list.join(', ')} |`)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
