import t from 'tap'
import type { NewCalibrator } from '../../src/calibration/calibrator-store.js'
import type { DocumentWrite } from '../../src/store/backend.js'
import { openTestBackend, smallSpec, startTestCluster, unitVector, weaviateSkipReason } from './weaviate-cluster-fixture.js'

// One real 3-node cluster for every check in this file (no mocks): starting one takes ~10-60 s here.
const skip = weaviateSkipReason()
if (skip !== false) console.log(`# skipping the Weaviate backend tests: ${skip}`)

const docs: DocumentWrite[] = [
  { id: 'run', text: 'The athlete was running a marathon', metadata: { lang: 'en', year: 2020, draft: null, tags: ['a'] }, vector: unitVector(1) },
  { id: 'runs', text: 'She runs every morning before work', metadata: { lang: 'en', year: '2020' }, vector: unitVector(2) },
  { id: 'cat', text: 'A cat sat on the mat', metadata: { lang: 'fr', year: 2021, draft: false }, vector: unitVector(3) },
  { id: 'dog', text: "The dog's bark was loud", metadata: null, vector: unitVector(4) },
  { id: 'ünï "code" \n', text: 'Cats and dogs: running together ✓', metadata: { 'odd key ✓': 'x', nested: { a: 1 } }, vector: unitVector(5) },
]

const ids = (hits: { id: string }[]) => hits.map((hit) => hit.id)

t.test('WeaviateBackend on a 3-node cluster', { skip }, async (t) => {
  const cluster = await startTestCluster(t)
  const backend = openTestBackend(t, cluster)
  await backend.afterOpen()
  t.equal(backend.notReady(), undefined, 'ready with every node up')
  t.equal(backend.degraded(), undefined)

  const record = await backend.createCollection(smallSpec('Books-1', { lexical: { stemming: 'porter', stopwords: 'english' } }))
  t.match(record, { name: 'Books-1', dims: 8, index_dims: 4 })
  t.same(await backend.getCollection('Books-1'), record, 'the record round-trips')
  await t.rejects(backend.createCollection(smallSpec('Books-1')), { code: 'collection_exists' })
  const lower = await backend.createCollection(smallSpec('books-1'))
  t.same((await backend.listCollections()).map((c) => c.name), ['Books-1', 'books-1'], "'Books-1' and 'books-1' are two collections")
  t.not(lower.created_at, undefined)

  await t.test('upsert and read back: ids, texts, metadata exactly, vectors as float32', async (t) => {
    await backend.upsert('Books-1', docs)
    for (const doc of docs) {
      const stored = await backend.getDocument('Books-1', doc.id)
      t.same(stored, { id: doc.id, text: doc.text, metadata: doc.metadata, vector: doc.vector }, `document ${JSON.stringify(doc.id)}`)
    }
    t.equal(await backend.getDocument('Books-1', 'missing'), undefined)
    t.equal(await backend.getDocument('books-1', 'run'), undefined, 'the other collection does not hold it')
    const bodies = await backend.documents('Books-1', ['cat', 'missing', 'dog', 'cat'])
    t.same([...bodies.keys()].sort(), ['cat', 'dog'])
    t.same(bodies.get('dog'), { text: docs[3]!.text, metadata: null })
    const vectors = await backend.vectors('Books-1', ['run', 'missing'])
    t.same([...vectors.keys()], ['run'])
    t.same(vectors.get('run'), docs[0]!.vector)
    t.equal((await backend.collectionStats('Books-1')).count, docs.length)
    await backend.upsert('Books-1', docs)
    t.equal((await backend.collectionStats('Books-1')).count, docs.length, 'a repeated upsert leaves the same state')
  })

  await t.test('dense: HNSW on the prefix, exact rescoring on the full vector', async (t) => {
    const result = await backend.denseSearch('Books-1', { vector: docs[2]!.vector, limit: 3, oversample: 4, rescoreDims: 8 })
    t.equal(result.strategy, 'hnsw')
    t.equal(result.hits[0]!.id, 'cat')
    t.ok(Math.abs(result.hits[0]!.score - 1) < 1e-6, 'the exact cosine of a vector with itself')
    t.equal(result.hits.length, 3)
    for (let i = 1; i < result.hits.length; i++) t.ok(result.hits[i - 1]!.score >= result.hits[i]!.score, 'best first')
    const filtered = await backend.denseSearch('Books-1', { vector: docs[2]!.vector, limit: 10, oversample: 4, rescoreDims: 8, filter: { lang: 'en' } })
    t.equal(filtered.strategy, 'exact', 'a selective filter scores its matches exactly')
    t.same(ids(filtered.hits).sort(), ['run', 'runs'])
    await t.rejects(
      backend.denseSearch('Books-1', { vector: docs[2]!.vector, limit: 3, oversample: 4, rescoreDims: 8, efSearch: 16 }),
      { code: 'invalid_value', message: /ef_search.*Weaviate backend sets ef per collection/ },
      'a per-request walk width is refused, naming the field (Weaviate has no per-query ef)',
    )
  })

  await t.test('filters: JSON type is part of the match, null matches an explicit null, every field must match', async (t) => {
    const search = async (filter: Record<string, string | number | boolean | null>) =>
      ids(await backend.lexicalSearch('Books-1', { query: 'running runs cat dog marathon morning', limit: 10, filter })).sort()
    t.same(await search({ year: 2020 }), ['run'])
    t.same(await search({ year: '2020' }), ['runs'])
    t.same(await search({ draft: null }), ['run'])
    t.same(await search({ draft: false }), ['cat'])
    t.same(await search({ lang: 'en', year: 2020 }), ['run'])
    t.same(await search({ lang: 'EN' }), [], 'case kept')
    t.same(await search({ 'odd key ✓': 'x' }), ['ünï "code" \n'])
    t.same(await search({ nested: 1 }), [], 'objects are not filterable')
    await t.rejects(search({ 'a"b': 1 }), { code: 'invalid_value' })
    t.same(await search({}), ['cat', 'dog', 'run', 'runs', 'ünï "code" \n'], 'an empty filter matches everything')
  })

  await t.test('lexical: BM25 over the analysed terms (stemmed, stop words gone)', async (t) => {
    const hits = await backend.lexicalSearch('Books-1', { query: 'Running', limit: 10 })
    t.same(ids(hits).sort(), ['run', 'runs', 'ünï "code" \n'], "'running' and 'runs' both stem to 'run'")
    t.same(await backend.lexicalSearch('Books-1', { query: 'the was', limit: 10 }), [], 'only stop words: no terms, no hits')
    await t.rejects(backend.lexicalSearch('Books-1', { query: 'b c d e', maxTerms: 3, limit: 10 }), { code: 'too_many_query_terms' })
    const single = await backend.lexicalSearch('Books-1', { terms: [{ term: 'cat', weight: 1 }], limit: 10 })
    const doubled = await backend.lexicalSearch('Books-1', { terms: [{ term: 'cat', weight: 2 }], limit: 10 })
    t.ok(single.length > 0)
    t.ok(Math.abs(doubled[0]!.score - 2 * single[0]!.score) < 1e-4 * single[0]!.score, 'a term weight scales its score (repetition in Weaviate)')
    const mixed = await backend.lexicalSearch('Books-1', { terms: [{ term: 'cat', weight: 0.5 }, { term: 'dog', weight: 0.25 }], limit: 10 })
    const dog = await backend.lexicalSearch('Books-1', { terms: [{ term: 'dog', weight: 1 }], limit: 10 })
    const expected = new Map<string, number>()
    for (const hit of single) expected.set(hit.id, 0.5 * hit.score)
    for (const hit of dog) expected.set(hit.id, (expected.get(hit.id) ?? 0) + 0.25 * hit.score)
    for (const hit of mixed) t.ok(Math.abs(hit.score - expected.get(hit.id)!) < 1e-4, `weighted sum for ${JSON.stringify(hit.id)}`)
  })

  await t.test('term statistics for RM3', async (t) => {
    const stats = await backend.termStatistics('Books-1', ['run', 'missing'])
    t.same(stats.analyzeQuery('The runners ran'), ['runner', 'ran'])
    t.same([...stats.termCounts(['run', 'missing']).keys()], ['run'])
    t.same(Object.fromEntries(stats.termCounts(['run']).get('run')!), { athlet: 1, run: 1, marathon: 1 })
    t.same(Object.fromEntries(stats.documentFrequencies(['run', 'marathon', 'athlet'])), { run: 3, marathon: 1, athlet: 1 })
    t.equal(stats.count(), docs.length)
  })

  await t.test('read-your-writes: an acknowledged document is found at once by get, BM25 and vector search', async (t) => {
    for (let i = 0; i < 15; i++) {
      const id = `fresh-${i}`
      const vector = unitVector(100 + i)
      await backend.upsert('Books-1', [{ id, text: `zebra${i} quagga`, metadata: { batch: i }, vector }])
      t.equal((await backend.getDocument('Books-1', id))?.id, id)
      t.same(ids(await backend.lexicalSearch('Books-1', { query: `zebra${i}`, limit: 5 })), [id], `BM25 finds ${id} at once`)
      const dense = await backend.denseSearch('Books-1', { vector, limit: 1, oversample: 4, rescoreDims: 8 })
      t.same(ids(dense.hits), [id], `vector search finds ${id} at once`)
    }
  })

  await t.test('read-your-writes in a full top-k: a fresh best match outranks 60 older matches at once', async (t) => {
    // Weaviate 1.35.2's BlockMax WAND gives a term still in the memtable no upper bound and prunes
    // its documents once the top-k heap is full; the cluster runs the exact WAND instead.
    await backend.createCollection(smallSpec('topk'))
    const older = Array.from({ length: 60 }, (_, i) => ({ id: `old-${i}`, text: `kiwi filler words number ${i} and more filler words here`, metadata: null, vector: unitVector(200 + i) }))
    await backend.upsert('topk', older)
    await backend.upsert('topk', [{ id: 'fresh', text: 'kiwi kiwi kiwi', metadata: null, vector: unitVector(300) }])
    const hits = await backend.lexicalSearch('topk', { query: 'kiwi', limit: 10 })
    t.equal(hits.length, 10)
    t.equal(hits[0]?.id, 'fresh', 'the fresh document ranks first')
  })

  await t.test('delete: returns the ids that existed; nothing finds them afterwards', async (t) => {
    t.same(await backend.delete('Books-1', ['cat', 'missing', 'cat']), ['cat'])
    t.equal(await backend.getDocument('Books-1', 'cat'), undefined)
    t.notOk(ids(await backend.lexicalSearch('Books-1', { query: 'cat mat', limit: 10 })).includes('cat'))
    t.notOk(ids((await backend.denseSearch('Books-1', { vector: docs[2]!.vector, limit: 10, oversample: 4, rescoreDims: 8 })).hits).includes('cat'))
    t.same(await backend.delete('Books-1', ['cat']), [])
  })

  await t.test('calibrators live in the cluster, versioned per (model, stage)', async (t) => {
    const fitted = (a: number): NewCalibrator =>
      ({
        model: 'bm25',
        stage: 'lexical',
        calibrator: { version: 1, method: 'platt', params: { input: 'scalar', a, b: 0 } },
        metrics: { method: 'platt', reason: 'test', n: 10, positives: 5, folds: 2, seed: 1, baseline: 'sigmoid', held_out: { before: { ece: 0, brier: 0, log_loss: 0 }, after: { ece: 0, brier: 0, log_loss: 0 } }, source: { kind: 'examples', queries: 1 } },
      }) as unknown as NewCalibrator
    const [first] = await backend.calibrators.save([fitted(1)])
    const [second] = await backend.calibrators.save([fitted(2)])
    t.equal(first!.version, 1)
    t.equal(second!.version, 2)
    t.match(await backend.calibrators.active('bm25', 'lexical'), { version: 2, active: true })
    t.same((await backend.calibrators.history('bm25', 'lexical')).map((c) => [c.version, c.active]), [[2, true], [1, false]])
    t.same((await backend.calibrators.list()).map((c) => c.version), [2])
    t.equal(await backend.calibrators.active('bm25', 'dense'), undefined)
  })

  await t.test('a collection that does not exist', async (t) => {
    await t.rejects(backend.upsert('nope', docs), { code: 'collection_not_found' })
    await t.rejects(backend.getDocument('nope', 'a'), { code: 'collection_not_found' })
    await t.rejects(backend.lexicalSearch('nope', { query: 'cat', limit: 1 }), { code: 'collection_not_found' })
    await t.rejects(backend.denseSearch('nope', { vector: unitVector(1), limit: 1, oversample: 1, rescoreDims: 8 }), { code: 'collection_not_found' })
    await t.rejects(backend.collectionStats('nope'), { code: 'collection_not_found' })
  })

  await t.test('drop', async (t) => {
    t.equal(await backend.dropCollection('books-1'), true)
    t.equal(await backend.dropCollection('books-1'), false)
    t.equal(await backend.getCollection('books-1'), undefined)
    t.same((await backend.listCollections()).map((c) => c.name), ['Books-1', 'topk'])
    await t.rejects(backend.getDocument('books-1', 'run'), { code: 'collection_not_found' })
  })

  await t.test('a second backend (another Funnel replica) sees the same collections, documents and calibrators', async (t) => {
    const other = openTestBackend(t, cluster, { classPrefix: backend['prefix'] as string, consistency: 'ONE' })
    t.same((await other.listCollections()).map((c) => c.name), ['Books-1', 'topk'])
    t.equal((await other.getDocument('Books-1', 'run'))?.text, docs[0]!.text)
    t.equal((await other.calibrators.active('bm25', 'lexical'))?.version, 2)
  })
})
