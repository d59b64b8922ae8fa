export interface SheddingReadinessOptions {
  /** Requests shed within `windowMs` that make the instance not ready. */
  notReadyAfter: number
  /** The sliding window sheds are counted over, and the quiet time (no shed at all) before ready again. */
  windowMs: number
  /** Milliseconds from any origin; injectable for tests. */
  now?: () => number
}

/**
 * Readiness with hysteresis while load is shed: not ready once `notReadyAfter` requests were shed
 * within the last `windowMs`, and ready again only after a whole `windowMs` with no request shed. A
 * load balancer then stops routing to a shedding instance instead of sending it traffic it refuses,
 * and a single shed request (or a burst that stops at once) does not make readiness flap.
 *
 * @example
 *   const readiness = new SheddingReadiness({ notReadyAfter: 10, windowMs: 10_000 })
 *   readiness.recordShed() // ten times within 10 s
 *   readiness.notReadyReason() // -> 'shedding load: 10 requests refused ...'
 */
export class SheddingReadiness {
  private readonly now: () => number
  /** Times of recent sheds, oldest first, at most `notReadyAfter` kept. */
  private readonly recent: number[] = []
  private notReadySince: number | undefined
  private lastShedMs = Number.NEGATIVE_INFINITY

  constructor(private readonly options: SheddingReadinessOptions) {
    this.now = options.now ?? (() => performance.now())
  }

  recordShed(): void {
    const now = this.now()
    this.lastShedMs = now
    this.recent.push(now)
    if (this.recent.length > this.options.notReadyAfter) this.recent.shift()
    const oldest = this.recent[0]!
    if (this.notReadySince === undefined && this.recent.length >= this.options.notReadyAfter && now - oldest <= this.options.windowMs) {
      this.notReadySince = now
    }
  }

  /** Why the instance should not receive traffic, or undefined when it should. */
  notReadyReason(): string | undefined {
    if (this.notReadySince === undefined) return undefined
    const quietMs = this.now() - this.lastShedMs
    if (quietMs >= this.options.windowMs) {
      this.notReadySince = undefined
      this.recent.length = 0
      return undefined
    }
    const waitMs = Math.ceil(this.options.windowMs - quietMs)
    return `shedding load: at least ${this.options.notReadyAfter} requests refused within ${this.options.windowMs} ms (FUNNEL_SHED_NOT_READY_AFTER, FUNNEL_SHED_READY_WINDOW_MS); ready again after ${this.options.windowMs} ms without shedding, in ${waitMs} ms at the earliest`
  }
}
