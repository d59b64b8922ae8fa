import t from 'tap'
import { buildApp } from '../../src/app.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { parseApiKeys, routeAccess } from '../../src/plugins/auth.js'
import { buildTestApp } from '../helpers/app.js'

const KEYS = 'writer-secret-0123456789:rw,reader-secret-0123456789:ro'
const RW = { authorization: 'Bearer writer-secret-0123456789' }
const RO = { authorization: 'Bearer reader-secret-0123456789' }
const doc = { documents: [{ id: 'a', text: 'the cat sat on the mat' }] }

t.test('without a key: 401 with a Bearer challenge and the catalogue body', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: KEYS })
  const res = await app.inject({ method: 'GET', url: '/v1/collections' })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="funnel"')
  t.same(res.json(), { error: { code: 'unauthorized', message: "authentication required: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'" } })

  const wrong = await app.inject({ method: 'GET', url: '/v1/collections', headers: { authorization: 'Bearer not-a-key' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="funnel", error="invalid_token"')
  t.equal(wrong.json().error.message, 'authentication required: the API key is not valid')

  const basic = await app.inject({ method: 'GET', url: '/v1/collections', headers: { authorization: 'Basic dXNlcjpwYXNz' } })
  t.equal(basic.statusCode, 401)
  t.match(basic.json().error.message, /must be 'Bearer <key>'/)

  const unknownRoute = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(unknownRoute.statusCode, 401, 'unknown routes do not reveal themselves to anonymous callers')
})

t.test('a read-write key may do everything; a read-only key only reads', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: KEYS })
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections', headers: RW, payload: { name: 'docs' } })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', headers: RW, payload: doc })).statusCode, 200)

  const put = await app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', headers: RO, payload: doc })
  t.equal(put.statusCode, 403)
  t.same(put.json(), {
    error: { code: 'forbidden', message: "PUT /v1/collections/:name/documents changes stored data and needs a read-write key; this key is read-only ('ro')" },
  })
  for (const [method, url, payload] of [
    ['POST', '/v1/collections', { name: 'other' }],
    ['DELETE', '/v1/collections/docs', undefined],
    ['DELETE', '/v1/collections/docs/documents/a', undefined],
  ] as const) {
    const res = await app.inject({ method, url, headers: RO, ...(payload !== undefined && { payload }) })
    t.equal(res.statusCode, 403, `${method} ${url} is a write`)
  }

  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs', headers: RO })).json().count, 1, 'the forbidden writes changed nothing')
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs/documents/a', headers: RO })).statusCode, 200)
  const search = await app.inject({ method: 'POST', url: '/v1/collections/docs/search', headers: RO, payload: { query: 'cat', top_k: 1 } })
  t.equal(search.statusCode, 200, 'search is a read')
  t.equal(search.json().results[0].id, 'a')
  const embed = await app.inject({ method: 'POST', url: '/v1/embeddings', headers: RO, payload: { input: 'cat' } })
  t.equal(embed.statusCode, 200, 'embeddings are a read')
  t.equal((await app.inject({ method: 'GET', url: '/nope', headers: RO })).statusCode, 404, 'a valid key gets the honest 404')
})

t.test('x-api-key is accepted as well as Bearer', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: KEYS })
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-api-key': 'reader-secret-0123456789' } })).statusCode, 200)
  const ro = await app.inject({ method: 'POST', url: '/v1/collections', headers: { 'x-api-key': 'reader-secret-0123456789' }, payload: { name: 'x' } })
  t.equal(ro.statusCode, 403)
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-api-key': 'nope' } })).statusCode, 401)
})

t.test('probes and the API description stay open; /metrics needs a key unless made public', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: KEYS })
  for (const url of ['/healthz', '/readyz', '/openapi.json']) {
    t.equal((await app.inject({ method: 'GET', url, remoteAddress: '203.0.113.9' })).statusCode, 200, `${url} is open`)
  }
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: RO })).statusCode, 200, 'a read-only key may scrape')

  const { app: open } = await buildTestApp(t, { apiKeys: KEYS, metricsPublic: true })
  t.equal((await open.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
  t.equal((await open.inject({ method: 'GET', url: '/v1/collections' })).statusCode, 401, 'only /metrics was opened')
})

t.test('FUNNEL_AUTH=off lets anyone in, even with keys configured', async (t) => {
  const { app } = await buildTestApp(t, { auth: 'off', apiKeys: KEYS })
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' }, remoteAddress: '203.0.113.9' })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: doc, remoteAddress: '203.0.113.9' })).statusCode, 200)
})

t.test('auto mode without keys serves direct loopback clients only', async (t) => {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections' })).statusCode, 200, 'IPv4 loopback')
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections', remoteAddress: '::1' })).statusCode, 200, 'IPv6 loopback')
  const remote = await app.inject({ method: 'GET', url: '/v1/collections', remoteAddress: '203.0.113.9' })
  t.equal(remote.statusCode, 401)
  t.match(remote.json().error.message, /only direct loopback clients are served.*FUNNEL_API_KEYS/)
  const proxied = await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-forwarded-for': '203.0.113.9' } })
  t.equal(proxied.statusCode, 401, 'a request relayed by a local proxy is not local')
  t.equal((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '203.0.113.9' })).statusCode, 200)
})

t.test('FUNNEL_AUTH=on without keys refuses to boot', async (t) => {
  const config = loadConfig({ FUNNEL_AUTH: 'on' }, { logLevel: 'silent', buildDefaultModel: false, dataDir: t.testdir() })
  await t.rejects(buildApp(config).then((app) => app.ready()), new ConfigError('FUNNEL_AUTH=on needs at least one key in FUNNEL_API_KEYS'))
  t.throws(() => loadConfig({ FUNNEL_AUTH: 'maybe' }), /invalid setting FUNNEL_AUTH=maybe/)
})

t.test('FUNNEL_API_KEYS parsing names the bad entry without echoing any key', async (t) => {
  const keys = parseApiKeys(' a:b:rw , other:ro,')
  t.same(keys.map((k) => k.role), ['rw', 'ro'])
  t.equal(keys[0]!.id.length, 12, 'identities are fingerprints, not keys')
  t.not(keys[0]!.id, keys[1]!.id)
  t.same(parseApiKeys(''), [])
  t.throws(() => parseApiKeys('good:rw,topsecret'), { message: "invalid setting FUNNEL_API_KEYS: entry 2 must be '<key>:rw' or '<key>:ro'" })
  t.throws(() => parseApiKeys('topsecret:admin'), /entry 1/)
  t.throws(() => parseApiKeys(':rw'), /entry 1/)
})

t.test('which routes count as writes', async (t) => {
  t.equal(routeAccess('GET', '/v1/collections', undefined), 'read')
  t.equal(routeAccess('POST', '/v1/collections/:name/search', undefined), 'read')
  t.equal(routeAccess('POST', '/v1/embeddings', undefined), 'read')
  t.equal(routeAccess('POST', '/v1/rerank', undefined), 'read')
  t.equal(routeAccess('POST', '/v1/collections', undefined), 'write')
  t.equal(routeAccess('POST', '/v1/collections/:name/calibrate', undefined), 'write', 'an unknown POST is a write until declared otherwise')
  t.equal(routeAccess('POST', '/v1/collections/:name/calibrate', 'read'), 'read', 'a route can declare config.access')
  t.equal(routeAccess('PUT', '/v1/collections/:name/documents', undefined), 'write')
  t.equal(routeAccess('DELETE', '/v1/collections/:name', undefined), 'write')
})
