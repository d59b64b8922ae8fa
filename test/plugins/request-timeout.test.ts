import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Makes the real search route slow (an injected delay before the real search); records how the search ended. */
function slowSearch(app: Awaited<ReturnType<typeof buildTestApp>>['app'], ms: number): { outcome: () => 'running' | 'finished' | string } {
  const search = app.searchPipeline.search.bind(app.searchPipeline)
  let outcome = 'running'
  app.searchPipeline.search = async (...args) => {
    await sleep(ms)
    try {
      const result = await search(...args)
      outcome = 'finished'
      return result
    } catch (error) {
      outcome = (error as { code?: string }).code ?? String(error)
      throw error
    }
  }
  return { outcome: () => outcome }
}

const searchRequest = { method: 'POST' as const, url: '/v1/collections/docs/search', payload: { query: 'cat', top_k: 1 } }

async function withDocs(t: Parameters<typeof buildTestApp>[0], overrides: Parameters<typeof buildTestApp>[1]) {
  const built = await buildTestApp(t, overrides)
  await built.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  await built.app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: { documents: [{ id: 'a', text: 'the cat sat' }] } })
  return built.app
}

t.test('a request past FUNNEL_REQUEST_TIMEOUT_MS gets 503 request_timeout; the search stops instead of running on', async (t) => {
  const app = await withDocs(t, { requestTimeoutMs: 100 })
  t.equal((await app.inject(searchRequest)).statusCode, 200, 'fast requests are untouched')
  const slow = slowSearch(app, 400)
  const started = performance.now()
  const res = await app.inject({ ...searchRequest, headers: { 'x-request-id': 'slow-1' } })
  t.ok(performance.now() - started < 350, 'answered at the deadline, not when the work ended')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['x-request-id'], 'slow-1')
  t.same(res.json(), {
    error: { code: 'request_timeout', message: 'request did not finish within 100 ms (FUNNEL_REQUEST_TIMEOUT_MS); searches and calibration fits stop, a write may still complete in the background' },
  })
  t.equal(slow.outcome(), 'running')
  await sleep(500)
  t.equal(slow.outcome(), 'request_timeout', 'the search saw the aborted request signal and stopped with its reason')
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/docs' })).statusCode, 200, 'the server carries on')
  const missing = await app.inject({ method: 'GET', url: '/v1/collections/nope' })
  t.equal(missing.json().error.code, 'collection_not_found', 'handler errors still reach the error handler')
})

t.test('FUNNEL_REQUEST_TIMEOUT_MS=0 disables the deadline', async (t) => {
  const app = await withDocs(t, { requestTimeoutMs: 0 })
  slowSearch(app, 300)
  t.equal((await app.inject(searchRequest)).statusCode, 200)
})
