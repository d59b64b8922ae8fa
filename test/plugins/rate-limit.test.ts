import t from 'tap'
import { TokenBucketLimiter } from '../../src/plugins/rate-limit.js'
import { buildTestApp } from '../helpers/app.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('token bucket: a burst, then refill at the rate, with the wait rounded up to whole seconds', async (t) => {
  let now = 0
  const limiter = new TokenBucketLimiter({ ratePerSecond: 0.5, burst: 2, now: () => now })
  t.same(limiter.take('a'), { allowed: true })
  t.same(limiter.take('a'), { allowed: true })
  t.same(limiter.take('a'), { allowed: false, retryAfterSeconds: 2 }, 'one token takes 2 s at 0.5/s')
  t.same(limiter.take('b'), { allowed: true }, 'callers have separate buckets')
  now = 1000
  t.same(limiter.take('a'), { allowed: false, retryAfterSeconds: 1 }, 'half a token after 1 s')
  now = 2000
  t.same(limiter.take('a'), { allowed: true })
  now = 60_000
  t.same([limiter.take('a'), limiter.take('a'), limiter.take('a')].map((r) => r.allowed), [true, true, false], 'refill stops at the burst')
})

t.test('token bucket: the number of remembered callers is bounded', async (t) => {
  const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxBuckets: 2, now: () => 0 })
  t.ok(limiter.take('a').allowed)
  t.notOk(limiter.take('a').allowed)
  limiter.take('b')
  limiter.take('c') // forgets 'a', the least recently used
  t.ok(limiter.take('a').allowed, 'a forgotten caller comes back with a full bucket')
})

const KEYS = 'first-key-0123456789:rw,second-key-0123456789:ro'
const first = { authorization: 'Bearer first-key-0123456789' }
const second = { 'x-api-key': 'second-key-0123456789' }

t.test('per key: 429 with Retry-After after the burst, other keys unaffected, then recovery', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: KEYS, rateLimitRps: 2, rateLimitBurst: 3 })
  const list = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/v1/collections', headers })
  for (let i = 0; i < 3; i++) t.equal((await list(first)).statusCode, 200, `request ${i + 1} is within the burst`)
  const limited = await list(first)
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['retry-after'], '1')
  t.ok(limited.headers['x-request-id'], 'limited responses still carry the request id')
  t.same(limited.json(), { error: { code: 'rate_limited', message: 'rate limit of 2 requests/s (burst 3) exceeded; retry after 1 s' } })
  t.equal((await list(second)).statusCode, 200, 'another key has its own bucket')
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'probes are never limited')
  await sleep(600)
  t.equal((await list(first)).statusCode, 200, 'a token came back after 500 ms at 2/s')
})

t.test('per client IP when auth is off', async (t) => {
  const { app } = await buildTestApp(t, { auth: 'off', rateLimitRps: 1, rateLimitBurst: 1 })
  const from = (remoteAddress: string) => app.inject({ method: 'GET', url: '/v1/collections', remoteAddress })
  t.equal((await from('198.51.100.1')).statusCode, 200)
  t.equal((await from('198.51.100.1')).statusCode, 429)
  t.equal((await from('198.51.100.2')).statusCode, 200, 'another address has its own bucket')
})

t.test('no limit by default', async (t) => {
  const { app } = await buildTestApp(t)
  const codes = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'GET', url: '/v1/collections' })))
  t.same(new Set(codes.map((r) => r.statusCode)), new Set([200]))
})

t.test('wrong keys are rate limited too (issue 13, finding 7): refused requests draw from their address bucket', async (t) => {
  const { app } = await buildTestApp(t, { apiKeys: KEYS, rateLimitRps: 0.5, rateLimitBurst: 3 })
  const attempt = (headers: Record<string, string>, remoteAddress = '203.0.113.7') => app.inject({ method: 'GET', url: '/v1/collections', headers, remoteAddress })
  const guesses = ['guess-1', 'guess-2', 'guess-3'].map((key) => ({ authorization: `Bearer ${key}` }))
  for (const headers of guesses) t.equal((await attempt(headers)).statusCode, 401, `${headers.authorization} is refused`)
  const limited = await attempt({ 'x-api-key': 'guess-4' })
  t.equal(limited.statusCode, 429, 'the fourth wrong key within the burst is rate limited, whatever key it names')
  t.equal(limited.headers['retry-after'], '2')
  t.equal(limited.json().error.code, 'rate_limited')
  t.equal((await attempt({})).statusCode, 429, 'so is a request with no key from the same address')
  t.equal((await attempt({ authorization: 'Basic abc' })).statusCode, 429, 'and one with a malformed Authorization header')
  t.equal((await attempt(guesses[0]!, '203.0.113.8')).statusCode, 401, 'another address has its own bucket')
  t.equal((await attempt(first)).statusCode, 200, 'a valid key from the limited address uses its own bucket')
})
