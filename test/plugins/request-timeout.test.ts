import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Makes the real search route slow: the pipeline has no cancellation, so it keeps running afterwards. */
function slowSearch(app: Awaited<ReturnType<typeof buildTestApp>>['app'], ms: number): { finished: () => boolean } {
  const search = app.searchPipeline.search.bind(app.searchPipeline)
  let done = false
  app.searchPipeline.search = async (...args) => {
    await sleep(ms)
    const result = await search(...args)
    done = true
    return result
  }
  return { finished: () => done }
}

const searchRequest = { method: 'POST' as const, url: '/v1/collections/docs/search', payload: { query: 'cat', top_k: 1 } }

async function withDocs(t: Parameters<typeof buildTestApp>[0], overrides: Parameters<typeof buildTestApp>[1]) {
  const built = await buildTestApp(t, overrides)
  await built.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  await built.app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: { documents: [{ id: 'a', text: 'the cat sat' }] } })
  return built.app
}

t.test('a request past FUNNEL_REQUEST_TIMEOUT_MS gets 503 request_timeout; the work finishes in the background', async (t) => {
  const app = await withDocs(t, { requestTimeoutMs: 100 })
  t.equal((await app.inject(searchRequest)).statusCode, 200, 'fast requests are untouched')
  const slow = slowSearch(app, 400)
  const started = performance.now()
  const res = await app.inject({ ...searchRequest, headers: { 'x-request-id': 'slow-1' } })
  t.ok(performance.now() - started < 350, 'answered at the deadline, not when the work ended')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['x-request-id'], 'slow-1')
  t.same(res.json(), {
    error: { code: 'request_timeout', message: 'request did not finish within 100 ms (FUNNEL_REQUEST_TIMEOUT_MS); its work may still complete in the background' },
  })
  t.notOk(slow.finished())
  await sleep(500)
  t.ok(slow.finished(), 'the abandoned work ran to completion')
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs' })).statusCode, 200, 'the server carries on')
  const missing = await app.inject({ method: 'GET', url: '/v1/collections/nope' })
  t.equal(missing.json().error.code, 'collection_not_found', 'handler errors still reach the error handler')
})

t.test('FUNNEL_REQUEST_TIMEOUT_MS=0 disables the deadline', async (t) => {
  const app = await withDocs(t, { requestTimeoutMs: 0 })
  slowSearch(app, 300)
  t.equal((await app.inject(searchRequest)).statusCode, 200)
})
