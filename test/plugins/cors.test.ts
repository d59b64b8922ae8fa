import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const preflight = (origin: string) => ({
  method: 'OPTIONS' as const,
  url: '/v1/collections/docs/documents',
  headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
})

t.test('configured origins get preflight answers before auth, and exposed headers on replies', async (t) => {
  const { app } = await buildTestApp(t, { corsOrigins: 'https://app.example.com, https://admin.example.com', apiKeys: 'k-0123456789:rw' })
  const res = await app.inject(preflight('https://app.example.com'))
  t.equal(res.statusCode, 204, 'no credentials on a preflight, and no 401 either')
  t.equal(res.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(res.headers['access-control-allow-methods'], /PUT/)
  t.match(res.headers['access-control-allow-methods'], /DELETE/)
  t.match(res.headers['access-control-allow-headers'], /authorization/)
  t.match(res.headers['access-control-allow-headers'], /x-api-key/)
  t.equal(res.headers['access-control-max-age'], '600')

  const get = await app.inject({ method: 'GET', url: '/v1/collections', headers: { origin: 'https://admin.example.com', 'x-api-key': 'k-0123456789' } })
  t.equal(get.statusCode, 200)
  t.equal(get.headers['access-control-allow-origin'], 'https://admin.example.com')
  t.match(get.headers['access-control-expose-headers'], /x-request-id/)

  const other = await app.inject(preflight('https://evil.example.net'))
  t.notOk(other.headers['access-control-allow-origin'], 'an origin not listed gets no CORS grant')
})

t.test('a wildcard allows any origin', async (t) => {
  const { app } = await buildTestApp(t, { corsOrigins: '*' })
  t.equal((await app.inject(preflight('https://anywhere.example'))).headers['access-control-allow-origin'], '*')
})

t.test('CORS is off by default: no CORS headers at all', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject(preflight('https://app.example.com'))
  t.notOk(res.headers['access-control-allow-origin'])
  t.notOk(res.headers['access-control-allow-methods'])
  const get = await app.inject({ method: 'GET', url: '/v1/collections', headers: { origin: 'https://app.example.com' } })
  t.notOk(get.headers['access-control-allow-origin'])
})
