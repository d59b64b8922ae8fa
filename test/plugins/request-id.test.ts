import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { generateRequestId } from '../../src/plugins/request-id.js'
import { buildTestApp } from '../helpers/app.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('every response carries x-request-id: generated, or the caller’s own', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: 'k-0123456789:rw' })
  const a = await app.inject({ method: 'GET', url: '/healthz' })
  const b = await app.inject({ method: 'GET', url: '/healthz' })
  t.match(a.headers['x-request-id'], UUID)
  t.not(a.headers['x-request-id'], b.headers['x-request-id'], 'a fresh id per request')

  const echoed = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'lb-7f3a:42' } })
  t.equal(echoed.headers['x-request-id'], 'lb-7f3a:42')

  const unauthorized = await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-request-id': 'req-401' } })
  t.equal(unauthorized.statusCode, 401)
  t.equal(unauthorized.headers['x-request-id'], 'req-401', 'errors raised in hooks too')
  const missing = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-api-key': 'k-0123456789', 'x-request-id': 'req-404' } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['x-request-id'], 'req-404', '404s too')
  const invalid = await app.inject({ method: 'POST', url: '/v1/collections', headers: { 'x-api-key': 'k-0123456789', 'x-request-id': 'req-400' }, payload: {} })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.headers['x-request-id'], 'req-400', 'validation errors too')
})

t.test('unsafe or over-long incoming ids are replaced, not trusted', async (t) => {
  const id = (value: string) => generateRequestId({ headers: { 'x-request-id': value } } as never)
  t.equal(id('abc-123_x.y'), 'abc-123_x.y')
  t.equal(id('a'.repeat(128)), 'a'.repeat(128))
  t.match(id('a'.repeat(129)), UUID, 'bounded length')
  t.match(id('evil\nfake log line'), UUID)
  t.match(id('<script>'), UUID)
  t.match(id(''), UUID)
  t.match(generateRequestId({ headers: {} } as never), UUID)
})

t.test('log lines of a request carry its id as reqId', async (t) => {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const config = loadConfig({}, { buildDefaultModel: false, dataDir: t.testdir(), modelsDir: t.testdir() })
  const app = await buildApp(config, { logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  await app.ready()
  await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'trace-me-1' } })
  const mine = lines.filter((l) => l.reqId === 'trace-me-1')
  t.ok(mine.some((l) => l.msg === 'incoming request'), 'the incoming line')
  t.ok(mine.some((l) => l.msg === 'request completed'), 'the completed line')
})
