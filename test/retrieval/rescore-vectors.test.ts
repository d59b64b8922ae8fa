import t from 'tap'
import { bytesPerVector, fromHalf, toHalf } from '../../src/retrieval/compact-vectors.js'
import { rankScored, rescoreAtFullDims, topScored } from '../../src/retrieval/rescore.js'
import { RescoreVectors } from '../../src/retrieval/rescore-vectors.js'
import { l2Normalize } from '../../src/retrieval/vector-math.js'

// The in-memory rescoring store (issue 16, item 3): compact rows scored in place must rank like the
// float32 vectors SQLite holds, and a row must follow its label through replace, delete and reuse.

const DIMS = 48

/** Deterministic pseudo-random unit vectors (mulberry32), so every run scores the same numbers. */
function randomVectors(count: number, dims: number, seed: number): Float32Array[] {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296 - 0.5
  }
  return Array.from({ length: count }, () => l2Normalize(Float32Array.from({ length: dims }, next)))
}

const docs = randomVectors(300, DIMS, 7)
const queries = randomVectors(20, DIMS, 11)
const labels = docs.map((_, i) => 1000 + i * 3)
const fromDisk = new Map(docs.map((v, i) => [labels[i]!, v]))

t.test('half conversion rounds to nearest even and round-trips what half can hold', async (t) => {
  t.equal(toHalf(1), 0x3c00)
  t.equal(toHalf(-2), 0xc000)
  t.equal(toHalf(65504), 0x7bff, 'the largest half')
  t.equal(toHalf(1e6), 0x7c00, 'overflow is infinity')
  t.equal(fromHalf(toHalf(0.333251953125)), 0.333251953125, 'a value half holds exactly survives')
  t.equal(fromHalf(toHalf(1 + 2 ** -11)), 1, 'a tie rounds to the even mantissa')
  t.equal(fromHalf(toHalf(2 ** -20)), 2 ** -20, 'subnormals are kept')
})

t.test('bytes per vector: float32 4/dim, float16 2/dim, int8 1/dim + a 4-byte scale; each with an 8-byte squared norm', async (t) => {
  t.equal(bytesPerVector('float32', 384), 1544, 'rows with their float64 squared norms')
  t.equal(bytesPerVector('float16', 384), 776)
  t.equal(bytesPerVector('int8', 384), 396)
  t.equal(bytesPerVector('int8', 768), 780)
  const rows = new RescoreVectors('int8', 384, 100)
  t.equal(rows.bytes, 100 * 396 + 256 * 16, 'bytes are the allocated rows and the label table (256 slots of 16 bytes for 100 rows)')
})

t.test('float32 rows give exactly the scores and order of rescoring the stored vectors', async (t) => {
  const rows = new RescoreVectors('float32', DIMS)
  docs.forEach((v, i) => rows.set(labels[i]!, v))
  for (const q of queries) {
    for (const dims of [DIMS, 24]) {
      t.same(rows.rescore(q, labels, dims, 10), rescoreAtFullDims(q, fromDisk, dims, 10), `dims ${dims}`)
    }
  }
})

t.test('float16 and int8 rows score within their precision and keep the top 10', async (t) => {
  for (const [encoding, tolerance, minOverlap] of [['float16', 1e-3, 0.99], ['int8', 1e-2, 0.95]] as const) {
    const rows = new RescoreVectors(encoding, DIMS, 8) // small, so it grows several times while filling
    docs.forEach((v, i) => rows.set(labels[i]!, v))
    let worst = 0
    let overlap = 0
    for (const q of queries) {
      const exact = rescoreAtFullDims(q, fromDisk, DIMS, 10)
      const compact = rows.rescore(q, labels, DIMS, 10)
      const exactScore = new Map(rescoreAtFullDims(q, fromDisk, DIMS, docs.length).map((s) => [s.label, s.score]))
      for (const hit of compact) worst = Math.max(worst, Math.abs(hit.score - exactScore.get(hit.label)!))
      overlap += compact.filter((hit) => exact.some((e) => e.label === hit.label)).length / 10
    }
    t.ok(worst <= tolerance, `${encoding}: worst score error ${worst.toExponential(2)} <= ${tolerance}`)
    t.ok(overlap / queries.length >= minOverlap, `${encoding}: top-10 overlap with exact ${(overlap / queries.length).toFixed(3)} >= ${minOverlap}`)
    t.ok(Math.abs(rows.dot(queries[0]!, labels[0]!)! - rescoreAtFullDims(queries[0]!, [[labels[0]!, docs[0]!]], DIMS, 1)[0]!.score) <= tolerance, `${encoding}: dot of unit vectors is their cosine`)
  }
})

t.test('a row follows its label through replace and delete, and a freed row is reused', async (t) => {
  const rows = new RescoreVectors('float32', DIMS, 16)
  for (let i = 0; i < 16; i++) rows.set(labels[i]!, docs[i]!)
  const bytes = rows.bytes
  rows.set(labels[3]!, docs[100]!)
  t.same(rows.decode(labels[3]!), docs[100], 'a replace overwrites the row')
  t.equal(rows.size, 16)

  rows.delete(labels[5]!)
  t.notOk(rows.has(labels[5]!))
  t.equal(rows.decode(labels[5]!), undefined)
  t.same(rows.rescore(docs[5]!, [labels[5]!, labels[6]!], DIMS, 10).map((s) => s.label), [labels[6]], 'a deleted label is not scored')
  rows.set(99, docs[200]!)
  t.equal(rows.bytes, bytes, 'the freed row took the new label; nothing grew')
  t.same(rows.decode(99), docs[200])
  t.same(rows.decode(labels[6]!), docs[6], 'other rows are untouched')

  rows.set(100, docs[201]!)
  t.equal(rows.bytes, bytes * 2, 'a full store doubles')
  for (let i = 0; i < 16; i++) if (i !== 5) t.same(rows.decode(labels[i]!), i === 3 ? docs[100] : docs[i], `row of label ${labels[i]} survived growing`)
  // Each row's stored norm follows it through replace, reuse and growing: scores equal rescoring the vectors.
  const held: [number, Float32Array][] = [[labels[3]!, docs[100]!], [99, docs[200]!], [100, docs[201]!], [labels[6]!, docs[6]!]]
  t.same(
    rows.rescore(queries[0]!, held.map(([label]) => label), DIMS, 4),
    rescoreAtFullDims(queries[0]!, held, DIMS, 4),
    'scores after replace, reuse and growing are those of the vectors now held',
  )
  t.throws(() => rows.set(1, new Float32Array(DIMS - 1)), /47 dims, expected 48/, 'a vector of the wrong dims is refused')
})

t.test('rankScored and topScored keep the best limit in the order a full sort gives, ties by label', async (t) => {
  let state = 3
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
  for (const [count, limit] of [[400, 10], [41, 10], [40, 10], [7, 10], [1000, 1], [100, 0]] as const) {
    // Scores on a coarse grid, so many tie and the label decides.
    const scored = Array.from({ length: count }, (_, i) => ({ label: (i * 7919) % 1009, score: Math.round(next() * 20) / 20 }))
    const expected = [...scored].sort((a, b) => b.score - a.score || a.label - b.label).slice(0, limit)
    t.same(rankScored(scored.map((s) => ({ ...s })), limit), expected, `${count} scored, best ${limit}`)
    t.same(topScored(scored.map((s) => s.label), scored.map((s) => s.score), limit), expected, `topScored: ${count} scored, best ${limit}`)
  }
})
