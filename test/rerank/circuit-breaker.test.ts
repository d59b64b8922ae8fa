import t from 'tap'
import { CircuitBreaker } from '../../src/rerank/listwise/circuit-breaker.js'

t.test('closed -> open after the threshold -> half-open admits one trial', async (t) => {
  let now = 0
  const breaker = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 100, now: () => now })
  breaker.recordFailure()
  breaker.recordFailure()
  breaker.recordSuccess()
  breaker.recordFailure()
  breaker.recordFailure()
  t.equal(breaker.state, 'closed', 'a success resets the consecutive count')
  breaker.recordFailure()
  t.equal(breaker.state, 'open')
  t.equal(breaker.tryAcquire(), false)
  t.equal(breaker.retryInMs, 100)
  now = 100
  t.equal(breaker.state, 'half-open')
  t.equal(breaker.retryInMs, 0)
  t.equal(breaker.tryAcquire(), true, 'one trial')
  t.equal(breaker.tryAcquire(), false, 'a second concurrent trial is refused')
  breaker.recordAbandoned()
  t.equal(breaker.tryAcquire(), true, 'an abandoned trial frees the slot')
  breaker.recordSuccess()
  t.equal(breaker.state, 'closed')
  t.equal(breaker.tryAcquire(), true)
})

t.test('defaults: 5 failures, 30 s cool-down', async (t) => {
  let now = 0
  const breaker = new CircuitBreaker({ now: () => now })
  for (let i = 0; i < 4; i++) breaker.recordFailure()
  t.equal(breaker.state, 'closed')
  breaker.recordFailure()
  t.equal(breaker.state, 'open')
  now = 29_999
  t.equal(breaker.state, 'open')
  now = 30_000
  t.equal(breaker.state, 'half-open')
})
