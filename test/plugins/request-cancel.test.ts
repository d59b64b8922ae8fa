import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildTestApp, fixtureModelsDir } from '../helpers/app.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * An OpenAI-compatible upstream that never answers: it records when each request arrived and when
 * Funnel closed its connection, so the test sees whether the search's work was cancelled.
 */
async function silentUpstream(t: Parameters<typeof buildTestApp>[0]) {
  const calls: { arrived: number; closed?: number }[] = []
  const server: Server = createServer((req, res) => {
    const call: { arrived: number; closed?: number } = { arrived: performance.now() }
    calls.push(call)
    req.resume()
    res.once('close', () => (call.closed = performance.now()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls }
}

async function appWithDocs(t: Parameters<typeof buildTestApp>[0], upstreamUrl: string, requestTimeoutMs: number) {
  const modelsDir = await fixtureModelsDir(['tiny-bert-mean', 'tiny-causal-lm'])
  const built = await buildTestApp(t, {
    modelsDir,
    requestTimeoutMs,
    rerankBudgetMs: 60_000,
    listwiseRemoteUrl: upstreamUrl,
    listwiseRemoteTokenizer: 'test/tiny-causal-lm',
    listwiseRemoteTimeoutMs: 60_000,
    listwiseFence: false,
  })
  await built.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const documents = Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about cats and item ${i}` }))
  await built.app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: { documents } })
  return built.app
}

t.test('a search past its deadline stops its rerank stage: the upstream call is closed at the 503, not at the 60 s budget', async (t) => {
  const upstream = await silentUpstream(t)
  const app = await appWithDocs(t, upstream.url, 300)
  const started = performance.now()
  const res = await app.inject({ method: 'POST', url: '/v1/collections/docs/search', payload: { query: 'cats', top_k: 3, rerank: { stages: [{ model: 'remote', top_n: 5 }] } } })
  const answered = performance.now()
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'request_timeout')
  t.ok(answered - started < 5_000, 'answered at the deadline')
  t.equal(upstream.calls.length, 1, 'the remote stage was called')
  for (let i = 0; i < 100 && upstream.calls[0]!.closed === undefined; i++) await sleep(20)
  const closed = upstream.calls[0]!.closed
  t.ok(closed !== undefined, 'the upstream request was aborted')
  t.ok(closed! - answered < 1_500, `closed ${(closed! - answered).toFixed(0)} ms after the 503`)
  await sleep(300)
  t.equal(upstream.calls.length, 1, 'no retry after the abort')
})

t.test('a client that hangs up cancels its search the same way (no deadline set)', async (t) => {
  const upstream = await silentUpstream(t)
  const app = await appWithDocs(t, upstream.url, 0)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const client = new AbortController()
  const request = fetch(`http://127.0.0.1:${port}/v1/collections/docs/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'cats', top_k: 3, rerank: { stages: [{ model: 'remote', top_n: 5 }] } }),
    signal: client.signal,
  }).catch((error: unknown) => error)
  for (let i = 0; i < 250 && upstream.calls.length === 0; i++) await sleep(20)
  t.equal(upstream.calls.length, 1, 'the search reached its rerank stage')
  const hungUp = performance.now()
  client.abort()
  t.type(await request, Error, 'the client gave up')
  for (let i = 0; i < 100 && upstream.calls[0]!.closed === undefined; i++) await sleep(20)
  const closed = upstream.calls[0]!.closed
  t.ok(closed !== undefined && closed - hungUp < 1_500, 'the upstream call was aborted when the client left')
})

t.test('a calibration fit past its deadline stops between labelling searches', async (t) => {
  const modelsDir = await fixtureModelsDir(['tiny-bert-mean'])
  const { app } = await buildTestApp(t, { modelsDir, requestTimeoutMs: 200 })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const documents = Array.from({ length: 20 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about ${i % 2 ? 'cats' : 'dogs'}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: { documents } })
  // Each labelling search takes 50 ms (an injected delay); 40 queries would take 2 s.
  const search = app.searchPipeline.search.bind(app.searchPipeline)
  const seen: (AbortSignal | undefined)[] = []
  app.searchPipeline.search = async (name, request, options) => {
    seen.push(options?.signal)
    await sleep(50)
    return search(name, request, options)
  }
  const qrels = Array.from({ length: 40 }, (_, i) => ({ query_id: `q${i}`, query: `query ${i} about cats`, id: `d${(i * 3) % 20}`, label: 1 }))
  const res = await app.inject({ method: 'POST', url: '/v1/calibration/fit', payload: { collection: 'docs', qrels } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'request_timeout')
  const atTimeout = seen.length
  await sleep(600)
  t.ok(seen.length <= atTimeout + 1, `searches stopped at the deadline (${atTimeout} before, ${seen.length} after 600 ms more; 40 without cancellation)`)
  t.ok(seen.length < 40)
  t.equal(seen[0]?.aborted, true, 'the labelling searches got the request signal, now aborted')
  t.equal((seen[0]?.reason as { code?: string } | undefined)?.code, 'request_timeout')
  t.same((await app.inject({ method: 'GET', url: '/v1/calibration' })).json(), { calibrators: [] }, 'nothing was stored')
})

t.test('/v1/rerank past its deadline aborts its reranker too', async (t) => {
  const upstream = await silentUpstream(t)
  const app = await appWithDocs(t, upstream.url, 300)
  const res = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { model: 'remote', query: 'cats', documents: ['cats purr', 'dogs bark', 'fish swim'] } })
  const answered = performance.now()
  t.equal(res.statusCode, 503)
  t.equal(upstream.calls.length, 1)
  for (let i = 0; i < 100 && upstream.calls[0]!.closed === undefined; i++) await sleep(20)
  const closed = upstream.calls[0]!.closed
  t.ok(closed !== undefined && closed - answered < 1_500, 'the upstream call was aborted at the deadline')
})
