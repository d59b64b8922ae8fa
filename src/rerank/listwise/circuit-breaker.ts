export type BreakerState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /** Consecutive failed calls that open the circuit (default 5). */
  failureThreshold?: number
  /** How long the circuit stays open before one trial call is let through (default 30 s). */
  coolDownMs?: number
  /** Clock, injectable so tests need not sleep. */
  now?: () => number
}

/**
 * Fails fast while a dependency is down: after `failureThreshold` consecutive failures the circuit
 * opens and calls are refused; after `coolDownMs` one trial call goes through (half-open), and
 * its outcome closes the circuit again or re-opens it for another cool-down.
 *
 * @example
 *   if (!breaker.tryAcquire()) throw new Error('upstream unavailable')
 *   try { const r = await call(); breaker.recordSuccess(); return r } catch (e) { breaker.recordFailure(); throw e }
 */
export class CircuitBreaker {
  private failures = 0
  private openedAt: number | undefined
  private trialInFlight = false
  private readonly failureThreshold: number
  private readonly coolDownMs: number
  private readonly now: () => number

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5
    this.coolDownMs = options.coolDownMs ?? 30_000
    this.now = options.now ?? Date.now
  }

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed'
    return this.now() - this.openedAt >= this.coolDownMs ? 'half-open' : 'open'
  }

  /** Milliseconds until a trial call is allowed (0 when calls are allowed now). */
  get retryInMs(): number {
    return this.openedAt === undefined ? 0 : Math.max(0, this.openedAt + this.coolDownMs - this.now())
  }

  /** Whether a call may proceed; in half-open state only one trial call at a time is admitted. */
  tryAcquire(): boolean {
    const state = this.state
    if (state === 'closed') return true
    if (state === 'open' || this.trialInFlight) return false
    this.trialInFlight = true
    return true
  }

  recordSuccess(): void {
    this.failures = 0
    this.openedAt = undefined
    this.trialInFlight = false
  }

  /** The call ended without a verdict on the dependency (the caller gave up): free the trial slot. */
  recordAbandoned(): void {
    this.trialInFlight = false
  }

  recordFailure(): void {
    this.failures += 1
    if (this.trialInFlight || this.failures >= this.failureThreshold) this.openedAt = this.now()
    this.trialInFlight = false
  }
}
