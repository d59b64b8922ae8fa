import type { RouteHandlerMethod } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { errors } from '../errors.js'

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function'

/** Races a handler's promise against a deadline; the loser's outcome is ignored. */
async function withDeadline<T>(work: PromiseLike<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(errors.requestTimeout(timeoutMs)), timeoutMs)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A deadline on every route handler (`FUNNEL_REQUEST_TIMEOUT_MS`, 0 = none): a handler still running
 * when it passes gets a 503 `request_timeout` through the normal error handler. The pipeline has no
 * cancellation, so the work carries on in the background; an upsert that times out may still commit
 * (upserts are idempotent, so retrying is safe). Receiving the body is bounded separately by Node's
 * server `requestTimeout`.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const timeoutMs = opts.config.requestTimeoutMs
    if (timeoutMs <= 0) return
    app.addHook('onRoute', (route) => {
      const handler = route.handler
      const guarded: RouteHandlerMethod = function (request, reply) {
        const result: unknown = handler.call(this, request, reply)
        // Handlers that send through `reply` and return nothing keep Fastify's callback semantics.
        return isThenable(result) ? withDeadline(result, timeoutMs) : result
      }
      route.handler = guarded as typeof route.handler
    })
  },
  { name: 'funnel-request-timeout' },
)
