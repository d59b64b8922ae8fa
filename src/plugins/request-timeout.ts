import type { RouteHandlerMethod } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { errors } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Aborted when the request's work is no longer wanted: its deadline (FUNNEL_REQUEST_TIMEOUT_MS)
     * passed, or the client closed the connection before the response. Long work (rerank stages,
     * calibration fits) stops at its next check; the reason is a FunnelError (Fastify's own
     * `request.signal` carries no reason and knows nothing of the deadline).
     */
    workSignal: AbortSignal | null
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function'

/** Races a handler's promise against a deadline; at the deadline the request's work is aborted too. */
async function withDeadline<T>(work: PromiseLike<T>, timeoutMs: number, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = errors.requestTimeout(timeoutMs)
      controller.abort(error)
      reject(error)
    }, timeoutMs)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A deadline and a cancellation signal for every route handler. `request.workSignal` is aborted when the
 * deadline (`FUNNEL_REQUEST_TIMEOUT_MS`, 0 = none) passes — the client then gets a 503
 * `request_timeout` through the normal error handler — or when the client closes the connection
 * before the response is written. Searches and calibration fits pass it down, so a rerank cascade or
 * a fit stops at its next stage, window or query instead of running on for nobody (and holding the
 * collection against drops). Writes do not take it: an upsert that times out may still commit
 * (upserts are idempotent, so retrying is safe). Receiving the body is bounded separately by Node's
 * server `requestTimeout`.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const timeoutMs = opts.config.requestTimeoutMs
    app.decorateRequest('workSignal', null)
    app.addHook('onRoute', (route) => {
      const handler = route.handler
      const guarded: RouteHandlerMethod = function (request, reply) {
        const controller = new AbortController()
        request.workSignal = controller.signal
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) controller.abort(errors.clientClosedRequest())
        })
        const result: unknown = handler.call(this, request, reply)
        // Handlers that send through `reply` and return nothing keep Fastify's callback semantics.
        return isThenable(result) && timeoutMs > 0 ? withDeadline(result, timeoutMs, controller) : result
      }
      route.handler = guarded as typeof route.handler
    })
  },
  { name: 'funnel-request-timeout' },
)
