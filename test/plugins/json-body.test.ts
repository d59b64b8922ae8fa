import t from 'tap'
import { JsonParseWorker } from '../../src/json-parse-worker.js'
import { buildTestApp } from '../helpers/app.js'

const bigDocuments = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `d${i}`, text: `river stone ${i} `.repeat(200) }))

t.test('bodies of FUNNEL_JSON_WORKER_MIN_BYTES or more are parsed on the worker, smaller ones inline (issue 13, finding 4)', async (t) => {
  const { app } = await buildTestApp(t, { jsonWorkerMinBytes: 64 * 1024 })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  const worker = app.jsonParseWorker!
  const before = worker.parsed
  const small = await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents: bigDocuments(2) } })
  t.equal(small.statusCode, 200)
  t.equal(worker.parsed, before, 'a small body is parsed inline')
  const payload = JSON.stringify({ documents: bigDocuments(40) })
  t.ok(payload.length > 64 * 1024, `large body: ${payload.length} bytes`)
  const large = await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', headers: { 'content-type': 'application/json; charset=utf-8' }, payload })
  t.equal(large.statusCode, 200, large.body)
  t.equal(worker.parsed, before + 1, 'the large body went through the worker')
  t.equal(large.json().upserted, 40)
  const doc = await app.inject({ method: 'GET', url: '/v1/collections/c/documents/d39' })
  t.equal(doc.json().text, bigDocuments(40)[39]!.text, 'the parsed text arrives intact')
})

t.test('a large malformed or poisoned body gets the same 400 as an inline one', async (t) => {
  const onWorker = await buildTestApp(t, { jsonWorkerMinBytes: 1024 })
  const inline = await buildTestApp(t, { jsonWorkerMinBytes: 0 })
  t.equal(inline.app.jsonParseWorker, undefined, '0 turns the worker off')
  const padding = 'x'.repeat(4096)
  const bodies = {
    malformed: `{"documents": [{"id": "a", "text": "${padding}"}`,
    proto: `{"documents": [], "pad": "${padding}", "__proto__": {"polluted": true}}`,
    constructor: `{"documents": [], "pad": "${padding}", "constructor": {"prototype": {"polluted": true}}}`,
  }
  for (const [name, payload] of Object.entries(bodies)) {
    const send = (app: typeof inline.app) => app.inject({ method: 'PUT', url: '/v1/collections/c/documents', headers: { 'content-type': 'application/json' }, payload })
    const [a, b] = await Promise.all([send(onWorker.app), send(inline.app)])
    t.equal(a.statusCode, 400, `${name}: 400`)
    t.equal(a.json().error.code, 'malformed_json', name)
    t.same(a.json(), b.json(), `${name}: the same error body either way`)
  }
  t.equal(onWorker.app.jsonParseWorker!.parsed, 0, 'a refused body is not counted as parsed')
  t.equal(({} as { polluted?: boolean }).polluted, undefined, 'no prototype was polluted')
})

t.test('once the worker is gone, large bodies are parsed inline', async (t) => {
  const { app } = await buildTestApp(t, { jsonWorkerMinBytes: 1024 })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  await app.jsonParseWorker!.close()
  t.equal(app.jsonParseWorker!.alive, false)
  const res = await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents: bigDocuments(5) } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().upserted, 5)
})

t.test('JsonParseWorker: transfers an owned buffer, copies a view into a shared one, rejects after close', async (t) => {
  const worker = await JsonParseWorker.start({ log: () => undefined })
  const owned = Buffer.from(JSON.stringify({ a: [1, 'two', null, { b: true }] }))
  const copy = Buffer.allocUnsafeSlow(owned.length)
  owned.copy(copy)
  t.same(await worker.parse(copy), { a: [1, 'two', null, { b: true }] })
  t.equal(copy.buffer.byteLength, 0, 'an owned buffer is transferred (detached here), not copied')
  const shared = Buffer.from('xx{"k":"v"}yy')
  const view = shared.subarray(2, shared.length - 2)
  t.same(await worker.parse(view), { k: 'v' })
  t.equal(shared.toString(), 'xx{"k":"v"}yy', 'a view is copied: the buffer around it is untouched')
  await t.rejects(worker.parse(Buffer.from('{"k":')), SyntaxError)
  const inFlight = t.rejects(worker.parse(Buffer.from(JSON.stringify({ big: 'y'.repeat(1_000_000) }))), /closed/, 'a parse in flight at close is rejected, not left hanging')
  await worker.close()
  await inFlight
  await t.rejects(worker.parse(Buffer.from('{}')), /not running/)
})
