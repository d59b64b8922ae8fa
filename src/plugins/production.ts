import cors, { type FastifyCorsOptions } from '@fastify/cors'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import authPlugin from './auth.js'
import loadSheddingPlugin from './load-shedding.js'
import metricsPlugin from './metrics.js'
import rateLimitPlugin, { createRateLimiter } from './rate-limit.js'
import requestIdPlugin from './request-id.js'
import requestTimeoutPlugin from './request-timeout.js'

export { generateRequestId } from './request-id.js'

/** `FUNNEL_CORS_ORIGINS`: `*` for any origin, or a comma-separated list of exact origins. */
export function corsOptions(origins: string): FastifyCorsOptions {
  const list = origins.split(',').map((o) => o.trim()).filter((o) => o !== '')
  return {
    origin: list.includes('*') ? '*' : list,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-api-key', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
  }
}

/**
 * Access control, limits and observability, in hook order: ids and metrics see every response; CORS
 * answers preflights before auth (browsers send no credentials on them); shedding runs before auth so
 * an overloaded server does the least work; rate limits key on the identity auth established, and
 * auth charges the requests it refuses to their address in the same limiter.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    await app.register(requestIdPlugin)
    await app.register(metricsPlugin)
    if (config.corsOrigins.trim() !== '') await app.register(cors, corsOptions(config.corsOrigins))
    await app.register(loadSheddingPlugin, { config })
    const limiter = createRateLimiter(config)
    await app.register(authPlugin, { config, limiter })
    await app.register(rateLimitPlugin, { limiter })
    await app.register(requestTimeoutPlugin, { config })
  },
  { name: 'funnel-production' },
)
