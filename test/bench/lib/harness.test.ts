import t from 'tap'
import { indexBeirCorpus } from '../../../bench/lib/harness.js'
import { buildTestApp, TEST_MODEL } from '../../helpers/app.js'

const DATASET = 'test/fixtures/beir-tiny'

t.test('--vectors-from builds a truncated-index collection from stored vectors, without embedding', async (t) => {
  const { app } = await buildTestApp(t)
  const full = await indexBeirCorpus(app, DATASET, { collection: 'full', model: TEST_MODEL })
  t.equal(full.documents, 3)
  t.equal(full.vectorsFrom, undefined)
  const embedder = await app.models.embedder(TEST_MODEL)
  let embedCalls = 0
  const embed = embedder.embed.bind(embedder)
  embedder.embed = (...args: Parameters<typeof embed>) => {
    embedCalls++
    return embed(...args)
  }
  t.teardown(() => {
    embedder.embed = embed
  })
  const copy = await indexBeirCorpus(app, DATASET, { collection: 'prefix', model: TEST_MODEL, index: { dims: 8 }, vectorsFrom: 'full' })
  t.equal(copy.vectorsFrom, 'full')
  t.equal(embedCalls, 0, 'no document was embedded again')
  const record = await app.backend.getCollection('prefix')
  t.equal(record?.index_dims, 8)
  const stats = await app.backend.collectionStats('prefix')
  t.equal(stats.count, 3)
  t.equal(stats.index_vectors, 3)
  const ids = ['d1', 'd2', 'd3']
  const [a, b] = await Promise.all([app.backend.vectors('full', ids), app.backend.vectors('prefix', ids)])
  t.equal(b.size, a.size)
  for (const [id, vector] of a) t.same([...b.get(id)!], [...vector], `${id}: the same full-dimension vector`)
  // The spy sees the embedder the upsert path uses: indexing without --vectors-from calls it.
  await indexBeirCorpus(app, DATASET, { collection: 'again', model: TEST_MODEL })
  t.ok(embedCalls > 0, 'indexing without vectorsFrom embeds')
})

t.test('--vectors-from refuses a missing source, another model or the collection itself', async (t) => {
  const { app } = await buildTestApp(t)
  await t.rejects(indexBeirCorpus(app, DATASET, { collection: 'x', model: TEST_MODEL, vectorsFrom: 'nope' }), /no such collection/)
  await indexBeirCorpus(app, DATASET, { collection: 'full', model: TEST_MODEL })
  await t.rejects(indexBeirCorpus(app, DATASET, { collection: 'x', model: 'other/model', vectorsFrom: 'full' }), /its model is test\/tiny-bert-mean/)
  await t.rejects(indexBeirCorpus(app, DATASET, { collection: 'full', model: TEST_MODEL, vectorsFrom: 'full' }), /another collection/)
})
