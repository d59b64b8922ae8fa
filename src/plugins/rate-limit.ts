import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { isOperationsRoute } from './operations-routes.js'

export interface TokenBucketOptions {
  ratePerSecond: number
  burst: number
  /** Buckets kept; the least recently used is forgotten first (it comes back full). */
  maxBuckets?: number
  /** Milliseconds from any origin; injectable for tests. */
  now?: () => number
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number }

interface Bucket {
  tokens: number
  updatedMs: number
}

/**
 * One token bucket per caller: `burst` requests at once, refilled at `ratePerSecond`.
 *
 * @example
 *   const limiter = new TokenBucketLimiter({ ratePerSecond: 5, burst: 10 })
 *   limiter.take('key:abc') // { allowed: true } ten times, then { allowed: false, retryAfterSeconds: 1 }
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly maxBuckets: number
  private readonly now: () => number

  constructor(private readonly options: TokenBucketOptions) {
    this.maxBuckets = options.maxBuckets ?? 10_000
    this.now = options.now ?? (() => performance.now())
  }

  take(caller: string): TakeResult {
    const now = this.now()
    const { ratePerSecond, burst } = this.options
    const bucket = this.buckets.get(caller) ?? { tokens: burst, updatedMs: now }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * ratePerSecond)
    bucket.updatedMs = now
    // Re-inserting keeps the Map in least-recently-used order, so eviction takes the first entry.
    this.buckets.delete(caller)
    this.buckets.set(caller, bucket)
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)) }
  }
}

/**
 * The server's limiter: one bucket per caller (`key:<fingerprint>`, or `ip:<address>` for requests
 * without a valid key). `check` takes a token or throws the catalogue's 429 with `Retry-After`.
 */
export class RequestRateLimiter {
  private readonly buckets: TokenBucketLimiter

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {
    this.buckets = new TokenBucketLimiter({ ratePerSecond, burst })
  }

  check(caller: string, reply: FastifyReply): void {
    const result = this.buckets.take(caller)
    if (result.allowed) return
    reply.header('retry-after', String(result.retryAfterSeconds))
    throw errors.rateLimited(result.retryAfterSeconds, this.ratePerSecond, this.burst)
  }
}

/** The limiter FUNNEL_RATE_LIMIT_RPS asks for, or undefined when it is 0 (off). */
export const createRateLimiter = (config: Config): RequestRateLimiter | undefined =>
  config.rateLimitRps > 0 ? new RequestRateLimiter(config.rateLimitRps, config.rateLimitBurst) : undefined

/** The bucket a request draws from: its key when auth accepted one, else its client address. */
export const callerOf = (request: FastifyRequest): string => (request.apiKey === null ? `ip:${request.ip}` : `key:${request.apiKey.id}`)

/**
 * Per-key rate limiting (per client IP when the request carries no key), answering 429 with
 * `Retry-After`. Off when FUNNEL_RATE_LIMIT_RPS is 0. Probes and /metrics are never limited. Requests
 * auth refuses are charged to their address by the auth plugin (it shares this limiter), so wrong keys
 * are limited too. Written here rather than taken from a package: the bucket is twenty lines and keys
 * on our auth identity.
 */
export default fp(
  async (app, opts: { limiter: RequestRateLimiter | undefined }) => {
    const { limiter } = opts
    if (limiter === undefined) return
    app.addHook('onRequest', async (request, reply) => {
      if (isOperationsRoute(request)) return
      limiter.check(callerOf(request), reply)
    })
  },
  { name: 'funnel-rate-limit', dependencies: ['funnel-auth'] },
)
