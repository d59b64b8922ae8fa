import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { TEST_MODEL, buildTestApp } from '../helpers/app.js'

t.test('collection lifecycle: create, list, describe, delete', async (t) => {
  const { app } = await buildTestApp(t)
  const created = await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'papers', index: { dims: 8, m: 12, ef_search: 32 } } })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { name: 'papers', model: TEST_MODEL, dims: 16, index: { dims: 8, m: 12, ef_construction: 200, ef_search: 32 }, count: 0 })

  const dup = await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'papers' } })
  t.equal(dup.statusCode, 409)
  t.same(dup.json(), { error: { code: 'collection_exists', message: "collection 'papers' already exists" } })

  await app.inject({ method: 'PUT', url: '/v1/collections/papers/documents', payload: { documents: [{ id: '1', text: 'alpha beta' }] } })
  const described = await app.inject({ method: 'GET', url: '/v1/collections/papers' })
  t.equal(described.json().count, 1)
  t.ok(described.json().size_on_disk_bytes > 16 * 4, 'size counts the stored vector and text')

  const listed = await app.inject({ method: 'GET', url: '/v1/collections' })
  t.same(listed.json().collections.map((c: { name: string }) => c.name), ['papers'])

  const deleted = await app.inject({ method: 'DELETE', url: '/v1/collections/papers' })
  t.same(deleted.json(), { acknowledged: true, name: 'papers' })
  const gone = await app.inject({ method: 'GET', url: '/v1/collections/papers' })
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().error.code, 'collection_not_found')
  const recreated = await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'papers' } })
  t.equal(recreated.json().count, 0, 'a recreated collection starts empty')
})

t.test('collection creation rejects bad input with the field and the allowed values', async (t) => {
  const { app } = await buildTestApp(t)
  const cases: [unknown, number, string, RegExp][] = [
    [{ name: '../etc' }, 400, 'invalid_request', /body\.name/],
    [{ name: 'ok', index: { dims: 17 } }, 400, 'unsupported_dimensions', /index\.dims: 17 .*1\.\.16/],
    [{ name: 'ok', model: 'no/such-model' }, 400, 'unknown_model', /no\/such-model.*known models/],
    [{ name: 'ok', model: '../../etc/passwd' }, 400, 'unknown_model', /known models/],
    [{ name: 'ok', index: { m: 1 } }, 400, 'invalid_request', /body\.index\.m: must be >= 2/],
    [{ name: 'ok', colour: 'red' }, 400, 'invalid_request', /colour: is not a known field/],
    [{}, 400, 'invalid_request', /body\.name: is required/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/collections', payload: payload as object })
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections' })).json().collections.length, 0, 'nothing was created')
})

t.test('health and readiness', async (t) => {
  const { app } = await buildTestApp(t)
  t.same((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' })
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json().models, [TEST_MODEL])
  const missing = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().error.code, 'route_not_found')
})

t.test('readyz is 503 naming the reason while the default model cannot load', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-data-'))
  const app = await buildApp(loadConfig({}, { dataDir, modelsDir: dataDir, logLevel: 'silent', embeddingModel: 'test/missing-model', buildDefaultModel: false }))
  t.teardown(() => app.close())
  await app.ready()
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on models')
  let res = await app.inject({ method: 'GET', url: '/readyz' })
  for (let i = 0; i < 50 && !/failed to load/.test(res.body); i++) {
    await new Promise((r) => setTimeout(r, 20))
    res = await app.inject({ method: 'GET', url: '/readyz' })
  }
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'not_ready')
  t.match(res.json().error.message, /test\/missing-model.*failed to load/)
})
