import type { Test } from 'tap'
import type { CalibrationMetrics } from '../../src/calibration/calibrator-store.js'
import type { SerialisedCalibrator } from '../../src/calibration/fit.js'
import { isFunnelError } from '../../src/errors.js'
import type { Backend, CollectionSpec, DocumentWrite } from '../../src/store/backend.js'

/**
 * The contract every `Backend` keeps (see src/store/backend.ts), as one suite any implementation
 * runs: the embedded backend in test/store/embedded-backend.test.ts, the Weaviate backend against
 * a real cluster. `open` returns a backend over the same storage each time it is called (the first
 * call on empty storage), so durability across a restart is checked by closing and opening again.
 */
export interface BackendUnderTest {
  open(): Promise<Backend>
}

const DIMS = 8

/** A deterministic unit vector: a mix of two axes, so cosines are known in closed form. */
function unit(values: number[]): Float32Array {
  const v = new Float32Array(DIMS)
  values.forEach((x, i) => (v[i] = x))
  const norm = Math.hypot(...v)
  return v.map((x) => x / norm)
}

const axis = (i: number, tilt = 0): Float32Array => {
  const v = new Array<number>(DIMS).fill(0)
  v[i] = 1
  v[(i + 1) % DIMS] = tilt
  return unit(v)
}

const spec = (name: string, indexDims = DIMS): CollectionSpec => ({
  name,
  model: 'test-model',
  dims: DIMS,
  index_dims: indexDims,
  index: { m: 16, ef_construction: 100, ef_search: 64 },
  settings: { lexical: { stemming: 'porter' } },
})

const DOCS: DocumentWrite[] = [
  { id: 'king', text: 'The king ruled the castle', metadata: { kind: 'royal', year: 1200, public: true }, vector: axis(0, 0.1) },
  { id: 'queen', text: 'A queen ruling from her castles', metadata: { kind: 'royal', year: 1300, public: false }, vector: axis(0, 0.3) },
  { id: 'garden', text: 'Gardens full of roses and gardeners', metadata: { kind: 'garden', year: 1300, public: true }, vector: axis(2) },
  { id: 'ünïcode', text: 'Emoji 🌹 and accents: café, naïve', metadata: null, vector: axis(4) },
  { id: 'nulls', text: 'a document with a null field', metadata: { kind: null, nested: { a: [1, 2] } }, vector: axis(6) },
]

const METRICS: CalibrationMetrics = {
  method: 'platt',
  reason: 'conformance',
  n: 10,
  positives: 5,
  folds: 5,
  seed: 1,
  baseline: 'sigmoid',
  held_out: { before: { ece: 0.2, brier: 0.2, log_loss: 0.6 }, after: { ece: 0.05, brier: 0.15, log_loss: 0.5 } },
  source: { kind: 'examples', queries: 1 },
}

const PLATT: SerialisedCalibrator = { version: 1, method: 'platt', params: { input: 'scalar', a: 2, b: -1 } }

async function rejectsNotFound(t: Test, promise: Promise<unknown>, what: string): Promise<void> {
  try {
    await promise
    t.fail(`${what}: expected collection_not_found, it resolved`)
  } catch (error) {
    t.ok(isFunnelError(error) && error.code === 'collection_not_found', `${what}: collection_not_found (got ${(error as Error).message})`)
  }
}

/** Runs the whole contract against one implementation. */
export function backendConformance(t: Test, name: string, makeBackend: (t: Test) => Promise<BackendUnderTest>): void {
  t.test(`${name}: collections are created, listed, described and dropped`, async (t) => {
    const under = await makeBackend(t)
    const backend = await under.open()
    t.teardown(() => backend.close())
    const created = await backend.createCollection(spec('books', 4))
    t.match(created, { name: 'books', model: 'test-model', dims: DIMS, index_dims: 4, index: { m: 16 }, settings: { lexical: { stemming: 'porter' } } })
    t.ok(!Number.isNaN(Date.parse(created.created_at)), 'created_at is a timestamp')
    await backend.createCollection(spec('apples'))
    t.same((await backend.listCollections()).map((c) => c.name).sort(), ['apples', 'books'])
    t.same(await backend.getCollection('books'), created, 'getCollection returns what create returned')
    t.equal(await backend.getCollection('nope'), undefined)
    t.match(await backend.collectionStats('books'), { count: 0, index_vectors: 0 })
    t.equal(await backend.dropCollection('apples'), true)
    t.equal(await backend.dropCollection('apples'), false, 'a second drop says it did not exist')
    t.same((await backend.listCollections()).map((c) => c.name), ['books'])
  })

  t.test(`${name}: documents round-trip exactly; upserts are idempotent by id; deletes report what existed`, async (t) => {
    const under = await makeBackend(t)
    const backend = await under.open()
    t.teardown(() => backend.close())
    await backend.createCollection(spec('docs', 4))
    await backend.upsert('docs', DOCS)
    await backend.upsert('docs', DOCS)
    t.equal((await backend.collectionStats('docs')).count, DOCS.length, 'repeating an upsert adds nothing')
    for (const doc of DOCS) {
      const stored = await backend.getDocument('docs', doc.id)
      t.ok(stored !== undefined, `${doc.id} stored`)
      t.equal(stored!.text, doc.text)
      t.same(stored!.metadata, doc.metadata)
      t.same([...stored!.vector], [...doc.vector], `${doc.id}: the full-dimension vector round-trips as float32`)
    }
    const bodies = await backend.documents('docs', ['king', 'missing', 'garden'])
    t.same([...bodies.keys()].sort(), ['garden', 'king'], 'unknown ids are absent')
    t.same(bodies.get('king'), { text: DOCS[0]!.text, metadata: DOCS[0]!.metadata })
    const vectors = await backend.vectors('docs', ['queen', 'missing'])
    t.same([...vectors.keys()], ['queen'])
    t.equal(vectors.get('queen')!.length, DIMS)

    await backend.upsert('docs', [{ ...DOCS[0]!, text: 'The king ruled the kingdom', metadata: { kind: 'changed' } }])
    t.equal((await backend.getDocument('docs', 'king'))!.text, 'The king ruled the kingdom', 'an upsert replaces by id')
    t.equal((await backend.collectionStats('docs')).count, DOCS.length)

    t.same(await backend.delete('docs', ['queen', 'missing']), ['queen'], 'delete returns the ids that existed')
    t.equal(await backend.getDocument('docs', 'queen'), undefined)
    t.same(await backend.delete('docs', ['queen']), [])
    t.match(await backend.collectionStats('docs'), { count: DOCS.length - 1, index_vectors: DOCS.length - 1 })
  })

  t.test(`${name}: the dense funnel ranks by exact cosine at the rescoring dims and respects filters`, async (t) => {
    const under = await makeBackend(t)
    const backend = await under.open()
    t.teardown(() => backend.close())
    await backend.createCollection(spec('dense', 4))
    await backend.upsert('dense', DOCS)
    const query = axis(0, 0.25)
    const dense = await backend.denseSearch('dense', { vector: query, limit: 3, oversample: 4, rescoreDims: DIMS })
    t.same(dense.hits.map((h) => h.id).slice(0, 2), ['queen', 'king'], 'closest by full-dimension cosine first')
    const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0)
    t.ok(Math.abs(dense.hits[0]!.score - cosine(query, DOCS[1]!.vector)) < 1e-5, 'the score is the exact cosine')
    for (let i = 1; i < dense.hits.length; i++) t.ok(dense.hits[i - 1]!.score >= dense.hits[i]!.score, 'best first')
    const filtered = await backend.denseSearch('dense', { vector: query, limit: 5, oversample: 4, rescoreDims: DIMS, filter: { public: true } })
    t.same(filtered.hits.map((h) => h.id), ['king', 'garden'], 'a boolean filter keeps only matching documents, in score order')
    const byNumber = await backend.denseSearch('dense', { vector: query, limit: 5, oversample: 4, rescoreDims: DIMS, filter: { year: 1300, kind: 'royal' } })
    t.same(byNumber.hits.map((h) => h.id), ['queen'], 'every field of the filter must match')
    const byNull = await backend.denseSearch('dense', { vector: query, limit: 5, oversample: 4, rescoreDims: DIMS, filter: { kind: null } })
    t.same(byNull.hits.map((h) => h.id), ['nulls'], 'null matches an explicit null only')
    await backend.delete('dense', ['queen'])
    const after = await backend.denseSearch('dense', { vector: query, limit: 5, oversample: 4, rescoreDims: DIMS })
    t.notOk(after.hits.some((h) => h.id === 'queen'), 'a deleted document is never returned')
  })

  t.test(`${name}: BM25 over analysed text, with filters and RM3 statistics`, async (t) => {
    const under = await makeBackend(t)
    const backend = await under.open()
    t.teardown(() => backend.close())
    await backend.createCollection(spec('lex'))
    await backend.upsert('lex', DOCS)
    const stemmed = await backend.lexicalSearch('lex', { query: 'castle rulers', limit: 10 })
    t.same(stemmed.map((h) => h.id).sort(), ['king', 'queen'], 'Porter stemming: castle and castles meet')
    t.ok(stemmed.every((h) => h.score > 0), 'scores are positive, higher is better')
    const filtered = await backend.lexicalSearch('lex', { query: 'castle', limit: 10, filter: { public: false } })
    t.same(filtered.map((h) => h.id), ['queen'])
    const weighted = await backend.lexicalSearch('lex', { terms: [{ term: 'garden', weight: 1 }, { term: 'castl', weight: 0.1 }], limit: 10 })
    t.equal(weighted[0]?.id, 'garden', 'weighted analysed terms: the heavier term wins')
    t.same(await backend.lexicalSearch('lex', { query: 'zebra', limit: 10 }), [], 'no shared term, no hit')
    const stats = await backend.termStatistics('lex', ['king', 'queen'])
    t.same(stats.analyzeQuery('The Castles'), ['castl'], 'query analysis drops stopwords and stems')
    t.equal(stats.termCounts(['king']).get('king')?.get('castl'), 1)
    t.equal(stats.documentFrequencies(['castl']).get('castl'), 2)
    t.equal(stats.count(), DOCS.length)
    await backend.delete('lex', ['queen'])
    t.same((await backend.lexicalSearch('lex', { query: 'castle', limit: 10 })).map((h) => h.id), ['king'], 'deletes reach BM25 at once')
  })

  t.test(`${name}: calls on a missing collection reject with collection_not_found`, async (t) => {
    const under = await makeBackend(t)
    const backend = await under.open()
    t.teardown(() => backend.close())
    await rejectsNotFound(t, backend.upsert('ghost', DOCS.slice(0, 1)), 'upsert')
    await rejectsNotFound(t, backend.delete('ghost', ['a']), 'delete')
    await rejectsNotFound(t, backend.getDocument('ghost', 'a'), 'getDocument')
    await rejectsNotFound(t, backend.denseSearch('ghost', { vector: axis(0), limit: 1, oversample: 1, rescoreDims: DIMS }), 'denseSearch')
    await rejectsNotFound(t, backend.lexicalSearch('ghost', { query: 'x', limit: 1 }), 'lexicalSearch')
    await rejectsNotFound(t, backend.collectionStats('ghost'), 'collectionStats')
  })

  t.test(`${name}: acknowledged writes and calibrators survive a restart`, async (t) => {
    const under = await makeBackend(t)
    const first = await under.open()
    await first.createCollection(spec('durable', 4))
    await first.upsert('durable', DOCS)
    await first.delete('durable', ['garden'])
    const saved = await first.calibrators.save([{ model: 'bm25', stage: 'lexical', calibrator: PLATT, metrics: METRICS }])
    t.equal(saved[0]!.version, 1)
    await first.calibrators.save([{ model: 'bm25', stage: 'lexical', calibrator: PLATT, metrics: METRICS }])
    await first.close()
    const second = await under.open()
    t.teardown(() => second.close())
    for (const record of await second.listCollections()) await second.openCollection(record)
    await second.afterOpen()
    t.match(await second.collectionStats('durable'), { count: DOCS.length - 1, index_vectors: DOCS.length - 1 })
    t.equal(await second.getDocument('durable', 'garden'), undefined, 'the delete survived')
    const dense = await second.denseSearch('durable', { vector: axis(0, 0.25), limit: 2, oversample: 4, rescoreDims: DIMS })
    t.same(dense.hits.map((h) => h.id), ['queen', 'king'], 'the dense index answers after the restart')
    t.same((await second.lexicalSearch('durable', { query: 'castle', limit: 5 })).map((h) => h.id).sort(), ['king', 'queen'])
    t.equal((await second.calibrators.active('bm25', 'lexical'))?.version, 2)
    t.same((await second.calibrators.history('bm25', 'lexical')).map((c) => [c.version, c.active]), [[2, true], [1, false]])
    t.same((await second.calibrators.list()).map((c) => [c.stage, c.model]), [['lexical', 'bm25']])
  })
}
