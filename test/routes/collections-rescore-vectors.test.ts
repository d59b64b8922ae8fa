import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

// The `rescore_vectors` collection setting over HTTP (issue 16, item 3): chosen at creation, stored
// resolved in the collection's settings, its memory reported, refused with the valid values, and the
// same search answers whichever encoding serves the rescoring.

const DOCS = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, text: `document ${i} about topic ${i % 5} and item ${i}` }))

t.test('rescore_vectors: default float16 for a truncated index, disk for a full one, chosen per collection, reported in memory bytes', async (t) => {
  const { app } = await buildTestApp(t)
  const create = (payload: object) => app.inject({ method: 'POST', url: '/v1/collections', payload })
  const byDefault = await create({ name: 'plain', index: { dims: 8 } })
  t.equal(byDefault.statusCode, 201)
  t.equal(byDefault.json().settings.rescore_vectors, 'float16', 'a truncated index rescores from float16 in memory; the default is stored with the collection')
  const fullDims = await create({ name: 'full' })
  t.equal(fullDims.json().settings.rescore_vectors, 'disk', 'a full-dim index (HNSW scores used as they are) keeps nothing in memory by default')
  t.equal(fullDims.json().rescore_memory_bytes, 0)
  for (const encoding of ['int8', 'float32', 'disk']) {
    const res = await create({ name: encoding, index: { dims: 8 }, rescore_vectors: encoding })
    t.equal(res.json().settings.rescore_vectors, encoding)
  }

  const bytes: Record<string, number> = {}
  const results: Record<string, unknown> = {}
  for (const name of ['plain', 'int8', 'float32', 'disk']) {
    await app.inject({ method: 'PUT', url: `/v1/collections/${name}/documents`, payload: { documents: DOCS } })
    bytes[name] = (await app.inject({ method: 'GET', url: `/v1/collections/${name}` })).json().rescore_memory_bytes
    const search = await app.inject({ method: 'POST', url: `/v1/collections/${name}/search`, payload: { query: 'topic 3 item', top_k: 5, mode: 'dense', oversample: 10 } })
    t.equal(search.statusCode, 200)
    results[name] = search.json().results.map((r: { id: string }) => r.id)
  }
  t.equal(bytes.disk, 0, 'disk keeps nothing in memory')
  t.ok(bytes.int8! > 0 && bytes.int8! < bytes.plain! && bytes.plain! < bytes.float32!, `int8 < float16 < float32 (${bytes.int8}, ${bytes.plain}, ${bytes.float32})`)
  t.same(results.float32, results.disk, 'float32 in memory answers as disk')
  t.same(results.plain, results.disk, 'float16 answers as disk here')

  const bad = await create({ name: 'bad', rescore_vectors: 'float8' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error.code, 'invalid_request')
  t.match(bad.json().error.message, /rescore_vectors: .*allowed: "float16", "int8", "float32", "disk"/, 'the message lists the valid values')
})
