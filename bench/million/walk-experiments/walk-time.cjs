// Walk time of hnswlib builds on one saved index: the experiment behind the prefetch table in
// docs/benchmarks/million-vectors.md "The candidate pool". Build the variants with build-variant.sh
// (the first named builds the index if it is not cached), then, e.g.:
//   GLIBC_TUNABLES=glibc.malloc.hugetlb=1 node bench/million/walk-experiments/walk-time.cjs 200000 192 128,1000 4 stock pf1 pf4 pfall pf4-skip pfall-skip
// Vectors: 2,000 seeded centres plus noise, unit length. Rounds alternate between the builds; every
// build must return the same neighbours (a prefetch changes no result).
const fs = require('node:fs')
const dir = process.env.OUT ?? '/tmp/hnsw-walk'
const [n, dims] = [Number(process.argv[2]), Number(process.argv[3])]
const efs = process.argv[4].split(',').map(Number)
const rounds = Number(process.argv[5])
const variants = process.argv.slice(6)
const load = (v) => require(`${dir}/${v}/build/Release/addon.node`).HierarchicalNSW
let s = 7
const next = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296 - 0.5 }
const centres = Array.from({ length: 2000 }, () => Array.from({ length: dims }, next))
function vec() { const c = centres[Math.floor((next() + 0.5) * 2000) % 2000]; const v = c.map((x) => x + 0.6 * next()); const norm = Math.hypot(...v); return v.map((x) => x / norm) }
const file = `${dir}/idx-${n}-${dims}.bin`
if (!fs.existsSync(file)) {
  const index = new (load(variants[0]))('ip', dims)
  index.initIndex(n, 16, 100, 1)
  for (let i = 0; i < n; i++) index.addPoint(vec(), i)
  index.writeIndexSync(file)
} else for (let i = 0; i < n; i++) vec()
const queries = Array.from({ length: 500 }, vec)
const loaded = variants.map((v) => { const index = new (load(v))('ip', dims); index.readIndexSync(file); return [v, index] })
for (const ef of efs) {
  const times = new Map()
  let reference
  for (let r = 0; r < rounds; r++) for (const [v, index] of loaded) {
    index.setEf(ef)
    for (const q of queries.slice(0, 20)) index.searchKnn(q, 10)
    const started = process.hrtime.bigint()
    const found = queries.map((q) => index.searchKnn(q, 10).neighbors.join(',')).join(';')
    times.set(v, [...(times.get(v) ?? []), (Number(process.hrtime.bigint() - started) / 1e6 / queries.length).toFixed(3)])
    if (reference === undefined) reference = found
    else if (found !== reference) console.log(`!! ${v} found other neighbours`)
  }
  for (const [v, t] of times) console.log(`dims ${dims} ef ${ef} ${v.padEnd(12)} ms/query ${t.join(' ')}`)
}
