import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls until `check` holds (pressure is sampled on an interval, so it shows up after a sample). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (await check()) return true
  return false
}

t.test('memory pressure: 503 overloaded with Retry-After; probes and /metrics still answer', async (t) => {
  // A threshold of a few bytes of heap is always exceeded: the first sample puts the server under pressure.
  const { app } = await buildTestApp(t, { shedMaxHeapUsedRatio: 1e-9, shedSampleIntervalMs: 100, shedRetryAfterSeconds: 7, shedNotReadyAfter: 1000 })
  t.ok(await eventually(async () => (await app.inject({ method: 'GET', url: '/v1/collections' })).statusCode === 503), 'requests are shed')
  const res = await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-request-id': 'shed-1' } })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '7')
  t.equal(res.headers['x-request-id'], 'shed-1')
  t.equal(res.json().error.code, 'overloaded')
  t.match(res.json().error.message, /^server is overloaded \(heap used \d+ bytes > FUNNEL_SHED_MAX_HEAP_USED_RATIO=1e-9 of the V8 heap limit\); retry after 7 s$/)
  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `${url} is exempt`)
})

t.test('readiness while shedding (issue 13, finding 5): /readyz answers 503 once requests are being shed', async (t) => {
  const { app } = await buildTestApp(t, { shedMaxHeapUsedRatio: 1e-9, shedSampleIntervalMs: 100, shedNotReadyAfter: 3, shedReadyWindowMs: 60_000 })
  const readyz = () => app.inject({ method: 'GET', url: '/readyz' })
  t.ok(await eventually(async () => (await app.inject({ method: 'GET', url: '/v1/collections' })).statusCode === 503), 'a first request is shed')
  t.equal((await readyz()).statusCode, 200, 'one shed request does not make the instance unready')
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ method: 'GET', url: '/v1/collections' })).statusCode, 503)
  const res = await readyz()
  t.equal(res.statusCode, 503, 'three shed requests within the window do')
  t.equal(res.json().error.code, 'not_ready')
  t.match(res.json().error.message, /^service is not ready: shedding load: at least 3 requests refused within 60000 ms \(FUNNEL_SHED_NOT_READY_AFTER, FUNNEL_SHED_READY_WINDOW_MS\)/)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness is unaffected: the process is fine, only busy')
})

t.test('event-loop delay: a blocked loop sheds requests, and service resumes once the loop is free', async (t) => {
  const { app } = await buildTestApp(t, { shedMaxEventLoopDelayMs: 30, shedSampleIntervalMs: 100 })
  const list = async () => (await app.inject({ method: 'GET', url: '/v1/collections' })).statusCode
  t.ok(await eventually(async () => (await list()) === 200), 'serving while the loop is idle')
  // The server is shed for one 100 ms sample after the stall; on a loaded CI host the polls below
  // once missed that window, so the stall is tried up to three times.
  let shedMessage = ''
  let shed = false
  for (let attempt = 0; attempt < 3 && !shed; attempt++) {
    const busyUntil = Date.now() + 600
    while (Date.now() < busyUntil) {
      // a synchronous hog: nothing else runs
    }
    shed = await eventually(async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/collections' })
      if (res.statusCode === 503) shedMessage = res.json().error.message
      return res.statusCode === 503
    }, 2000)
  }
  t.ok(shed, 'shed after the stall is sampled')
  // A stall longer than the sample leaves no delay sample at all; both wordings name the setting.
  t.match(shedMessage, /^server is overloaded \(event-loop delay ([\d.]+ ms|over 100 ms, the loop did not turn in the last sample) > FUNNEL_SHED_MAX_EVENT_LOOP_DELAY_MS=30\)/)
  t.ok(await eventually(async () => (await list()) === 200), 'recovers')
})

t.test('nothing is shed at the defaults', async (t) => {
  const { app } = await buildTestApp(t, { shedSampleIntervalMs: 100 })
  await sleep(250)
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections' })).statusCode, 200)
})
