import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const put = (documents: unknown[]) => ({ method: 'PUT' as const, url: '/v1/collections/docs/documents', payload: { documents } })

t.test('documents: upsert, fetch, update in place, delete — each reflected in search at once', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const res = await app.inject(put([
    { id: 'cat', text: 'the cat sat on the mat', metadata: { kind: 'animal', legs: 4 } },
    { id: 'ship', text: 'a container ship crossed the atlantic ocean' },
  ]))
  t.equal(res.statusCode, 200)
  t.match(res.json(), { upserted: 2, truncated: [] })

  const fetched = await app.inject({ method: 'GET', url: '/v1/collections/docs/documents/cat' })
  t.same(fetched.json(), { id: 'cat', text: 'the cat sat on the mat', metadata: { kind: 'animal', legs: 4 } })

  const search = async (query: string) =>
    (await app.inject({ method: 'POST', url: '/v1/collections/docs/search', payload: { query, top_k: 5 } })).json().results as { id: string; score: number; text?: string }[]
  const exact = await search('the cat sat on the mat')
  t.equal(exact[0]!.id, 'cat', 'a document is its own nearest neighbour')
  t.ok(Math.abs(exact[0]!.score - 1) < 1e-5, 'identical text scores cosine 1')

  await app.inject(put([{ id: 'cat', text: 'quarterly revenue grew by ten percent' }]))
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs/documents/cat' })).json().text, 'quarterly revenue grew by ten percent')
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs' })).json().count, 2, 'update in place, not a second copy')
  const afterUpdate = await search('quarterly revenue grew by ten percent')
  t.equal(afterUpdate[0]!.id, 'cat')
  t.ok(afterUpdate[0]!.score > 0.99999, 'the index holds the new vector')
  t.equal(afterUpdate.length, 2)

  const del = await app.inject({ method: 'DELETE', url: '/v1/collections/docs/documents/cat' })
  t.same(del.json(), { acknowledged: true, id: 'cat' })
  t.same((await search('quarterly revenue')).map((r) => r.id), ['ship'], 'deleted documents leave search immediately')
  const again = await app.inject({ method: 'DELETE', url: '/v1/collections/docs/documents/cat' })
  t.equal(again.statusCode, 404)
  t.equal(again.json().error.code, 'document_not_found')
})

t.test('long texts are truncated to the model maximum and the response says which', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const res = await app.inject(put([{ id: 'long', text: 'word '.repeat(400) }, { id: 'short', text: 'short text' }]))
  t.same(res.json().truncated, ['long'])
})

t.test('bad document batches get 4xx naming the field; nothing is written', async (t) => {
  const { app } = await buildTestApp(t, { maxBatchDocuments: 3 })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const cases: [unknown[] | unknown, number, string, RegExp][] = [
    [[], 400, 'invalid_request', /documents: must NOT have fewer than 1 items/],
    [[{ id: 'a', text: '' }], 400, 'invalid_request', /documents\.0\.text/],
    [[{ id: 'a', text: '   ' }], 400, 'invalid_value', /documents\[0\]\.text/],
    [[{ id: 'a', text: 42 }], 400, 'invalid_request', /documents\.0\.text: must be string/],
    [[{ id: 'a', text: 'x' }, { id: 'a', text: 'y' }], 400, 'invalid_value', /documents\[1\]\.id.*unique/],
    [[{ id: '', text: 'x' }], 400, 'invalid_request', /documents\.0\.id/],
    [[{ id: 'a', text: 'x', metadata: 'nope' }], 400, 'invalid_request', /metadata: must be object/],
    [Array.from({ length: 4 }, (_, i) => ({ id: String(i), text: 'x' })), 413, 'batch_too_large', /4 items exceeds the maximum of 3/],
  ]
  for (const [documents, status, code, message] of cases) {
    const res = await app.inject(put(documents as unknown[]))
    t.equal(res.statusCode, status, JSON.stringify(documents).slice(0, 60))
    t.equal(res.json().error.code, code)
    t.match(res.json().error.message, message)
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs' })).json().count, 0)
  const missing = await app.inject({ method: 'PUT', url: '/v1/collections/nope/documents', payload: { documents: [{ id: 'a', text: 'x' }] } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().error.code, 'collection_not_found')
  const noDoc = await app.inject({ method: 'GET', url: '/v1/collections/docs/documents/zzz' })
  t.same(noDoc.json(), { error: { code: 'document_not_found', message: "document 'zzz' does not exist in collection 'docs'" } })
})

t.test('oversized and malformed bodies', async (t) => {
  const { app } = await buildTestApp(t, { bodyLimitBytes: 2048 })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const big = await app.inject(put([{ id: 'a', text: 'x'.repeat(4096) }]))
  t.equal(big.statusCode, 413)
  t.equal(big.json().error.code, 'payload_too_large')
  const bad = await app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: '{"documents": [', headers: { 'content-type': 'application/json' } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error.code, 'malformed_json')
})
