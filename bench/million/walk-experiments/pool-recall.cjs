// The candidate pool against a walk widened to the shortlist, on the index walk-time.cjs builds:
// recall of the exact top 10 / 100 / K at the index dims, and time per query. The table "First check"
// in docs/benchmarks/million-vectors.md "The candidate pool". Uses the product's AVX2 addon (npm ci
// builds it with the pool):
//   node bench/million/walk-experiments/pool-recall.cjs 200000 192 1000 100,200,300,500
const path = require('node:path')
const dir = process.env.OUT ?? '/tmp/hnsw-walk'
const [n, dims, K] = process.argv.slice(2, 5).map(Number)
const poolEfs = process.argv[5].split(',').map(Number)
const { HierarchicalNSW } = require(path.resolve('node_modules/.cache/funnel/hnswlib-avx2/build/Release/addon.node'))
let s = 7
const next = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296 - 0.5 }
const centres = Array.from({ length: 2000 }, () => Array.from({ length: dims }, next))
function vec() { const c = centres[Math.floor((next() + 0.5) * 2000) % 2000]; const v = c.map((x) => x + 0.6 * next()); const norm = Math.hypot(...v); return v.map((x) => x / norm) }
const data = new Float32Array(n * dims)
for (let i = 0; i < n; i++) data.set(vec(), i * dims)
const queries = Array.from({ length: 200 }, vec)
const exact = queries.map((q) => {
  const scores = new Float32Array(n)
  for (let i = 0; i < n; i++) { let d = 0; for (let j = 0; j < dims; j++) d += q[j] * data[i * dims + j]; scores[i] = d }
  return Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, K)
})
const index = new HierarchicalNSW('ip', dims)
index.readIndexSync(`${dir}/idx-${n}-${dims}.bin`)
if (typeof index.setCandidatePool !== 'function') throw new Error('this addon has no candidate pool (npm ci builds it into the AVX2 addon)')
const runs = [['walk widened', false, K], ...poolEfs.map((ef) => ['pool', true, ef])]
for (let round = 0; round < 3; round++) for (const [name, pool, ef] of runs) {
  index.setEf(ef)
  index.setCandidatePool(pool)
  const started = process.hrtime.bigint()
  const found = queries.map((q) => index.searchKnn(q, K).neighbors)
  const ms = Number(process.hrtime.bigint() - started) / 1e6 / queries.length
  const recall = (top) => found.reduce((sum, got, i) => { const g = new Set(got); return sum + exact[i].slice(0, top).filter((d) => g.has(d)).length / top }, 0) / queries.length
  console.log(`round ${round} ${name} walk ${ef}: ${found[0].length} candidates, recall top 10 ${recall(10).toFixed(3)}, top 100 ${recall(100).toFixed(3)}, top ${K} ${recall(K).toFixed(3)}, ${ms.toFixed(3)} ms/query`)
}
