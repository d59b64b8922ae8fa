import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { patchAddon, patchHnswalg } from '../../scripts/install/hnswlib-candidate-pool.mjs'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { hnswlib } from '../../src/retrieval/hnswlib-binding.js'
import { mulberry32 } from '../../src/calibration/fit.js'

// The candidate pool (scripts/install/hnswlib-candidate-pool.mjs, compiled into the AVX2 addon):
// a shortlist of k from every node a walk of width ef scored, instead of a walk widened to k.

const hnswSource = path.join('node_modules', 'hnswlib-node', 'src')

t.test('the patch applies to the installed hnswlib-node source and refuses a source it does not know', async (t) => {
  const hnswalg = readFileSync(path.join(hnswSource, 'hnswlib', 'hnswalg.h'), 'utf8')
  const addon = readFileSync(path.join(hnswSource, 'addon.cc'), 'utf8')
  t.match(patchHnswalg(hnswalg), /setCandidatePool\(bool on\)/)
  t.match(patchAddon(addon), /InstanceMethod\("setCandidatePool"/)
  t.throws(() => patchHnswalg(hnswalg.replace('void setEf(size_t ef) {', 'void setEf(size_t e) {')), /hnswlib source changed: setEf not found exactly once/)
  t.throws(() => patchAddon(addon.replace(/InstanceMethod\("setEf"/g, 'InstanceMethod("setEF"')), /the setEf method table entry/)
})

t.test('the loaded addon has the pool wherever the AVX2 addon is in use', async (t) => {
  t.equal(hnswlib.candidatePool, hnswlib.variant === 'avx2', `variant ${hnswlib.variant}, candidate pool ${hnswlib.candidatePool}`)
})

const noPool = hnswlib.candidatePool ? false : `the loaded hnswlib addon (${hnswlib.variant}: ${hnswlib.reason}) has no candidate pool; it is compiled into the AVX2 addon`

/** A small real index: clustered unit vectors, so nearest lists are not ties. */
function fixture(seed = 5, count = 4000, dims = 32) {
  const random = mulberry32(seed)
  const centres = Array.from({ length: 40 }, () => Float32Array.from({ length: dims }, () => random() - 0.5))
  const vector = () => {
    const c = centres[Math.floor(random() * centres.length)]!
    const v = Float32Array.from(c, (x) => x + 0.4 * (random() - 0.5))
    const norm = Math.hypot(...v)
    return v.map((x) => x / norm)
  }
  const index = DenseIndex.create({ dims, m: 8, efConstruction: 64, efSearch: 1 })
  const vectors = Array.from({ length: count }, vector)
  vectors.forEach((v, label) => index.upsert(label, v))
  const queries = Array.from({ length: 30 }, vector)
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0)
  const exact = (q: Float32Array, k: number) =>
    vectors
      .map((v, label) => ({ label, similarity: dot(q, v) }))
      .sort((a, b) => b.similarity - a.similarity)
      .slice(0, k)
  return { index, vectors, queries, exact, dot }
}

t.test('a pooled search answers more candidates than its walk keeps, each with its true similarity, best first', { skip: noPool }, async (t) => {
  const { index, vectors, queries, exact, dot } = fixture()
  let pooledRecall = 0
  let walkRecall = 0
  for (const q of queries) {
    const pooled = index.search(q, 200, undefined, { ef: 20 })
    t.ok(pooled.length > 20 && pooled.length <= 200, `${pooled.length} candidates from a walk of width 20`)
    t.equal(new Set(pooled.map((n) => n.label)).size, pooled.length, 'no label twice')
    t.ok(pooled.every((n, i) => i === 0 || pooled[i - 1]!.similarity >= n.similarity), 'sorted by similarity')
    t.ok(pooled.every((n) => Math.abs(n.similarity - dot(q, vectors[n.label]!)) < 1e-5), 'each similarity is the inner product')
    // The walk's own 20 are among the scored nodes, so the pool's first 20 are at least as close, one for one.
    index.settings.efSearch = 20
    const walk = index.search(q, 20)
    index.settings.efSearch = 1
    t.ok(walk.every((n, i) => pooled[i]!.similarity >= n.similarity - 1e-6), "the pool's rank i is at least as close as the walk's rank i")
    const truth = new Set(exact(q, 200).map((n) => n.label))
    pooledRecall += pooled.filter((n) => truth.has(n.label)).length / 200 / queries.length
    walkRecall += walk.filter((n) => truth.has(n.label)).length / 200 / queries.length
  }
  t.ok(pooledRecall > walkRecall * 3, `recall of the exact top 200: pool ${pooledRecall.toFixed(3)} against the walk's own list ${walkRecall.toFixed(3)}`)
})

t.test('a pooled search skips deleted labels and leaves plain searches as they were', { skip: noPool }, async (t) => {
  const { index, queries } = fixture(11)
  index.settings.efSearch = 50
  const before = queries.map((q) => index.search(q, 10).map((n) => n.label).join())
  const deleted = new Set<number>()
  for (const q of queries.slice(0, 10)) for (const n of index.search(q, 60, undefined, { ef: 30 }).slice(0, 15)) deleted.add(n.label)
  const after = queries.map((q) => index.search(q, 10).map((n) => n.label).join())
  t.same(after, before, 'pooled searches in between change nothing in plain ones (the pool is switched off again)')
  for (const label of deleted) index.remove(label)
  for (const q of queries) {
    const pooled = index.search(q, 300, undefined, { ef: 30 })
    t.notOk(pooled.some((n) => deleted.has(n.label)), 'no deleted label in the pool')
    t.ok(pooled.length > 30, `${pooled.length} live candidates`)
  }
})

t.test('with a label filter the search is a plain walk (the pool does not call the filter per scored node)', { skip: noPool }, async (t) => {
  const { index, queries } = fixture(17)
  const allowed = new Set(Array.from({ length: 4000 }, (_, i) => i).filter((i) => i % 3 === 0))
  for (const q of queries.slice(0, 10)) {
    const hits = index.search(q, 40, allowed, { ef: 10 })
    t.equal(hits.length, 40, 'the walk widened to k, as without the pool')
    t.ok(hits.every((n) => allowed.has(n.label)), 'only allowed labels')
  }
})
