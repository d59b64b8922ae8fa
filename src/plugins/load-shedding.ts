import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { isOperationsRoute } from './operations-routes.js'
import { SheddingReadiness } from './shedding-readiness.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Why /readyz should answer 503 because load is being shed, or undefined. */
    sheddingNotReadyReason(): string | undefined
  }
}

/** What tripped, in the words of the setting that controls it. */
function describePressure(type: string, value: number | undefined, config: Config): string {
  const shown = value === undefined ? '' : Number.isInteger(value) ? String(value) : value.toFixed(2)
  switch (type) {
    case 'eventLoopDelay':
      // under-pressure reports Infinity when the loop never turned during a whole sample (no delay
      // sample to average): say that rather than print "Infinity ms".
      if (value !== undefined && !Number.isFinite(value)) {
        return `event-loop delay over ${config.shedSampleIntervalMs} ms, the loop did not turn in the last sample > FUNNEL_SHED_MAX_EVENT_LOOP_DELAY_MS=${config.shedMaxEventLoopDelayMs}`
      }
      return `event-loop delay ${shown} ms > FUNNEL_SHED_MAX_EVENT_LOOP_DELAY_MS=${config.shedMaxEventLoopDelayMs}`
    case 'eventLoopUtilization':
      return `event-loop utilisation ${shown} > FUNNEL_SHED_MAX_EVENT_LOOP_UTILIZATION=${config.shedMaxEventLoopUtilization}`
    case 'heapUsedBytes':
      return `heap used ${shown} bytes > FUNNEL_SHED_MAX_HEAP_USED_RATIO=${config.shedMaxHeapUsedRatio} of the V8 heap limit`
    case 'rssBytes':
      return `resident memory ${shown} bytes > FUNNEL_SHED_MAX_RSS_BYTES=${config.shedMaxRssBytes}`
    default:
      return type
  }
}

/** A share of V8's heap limit in bytes (0 = not checked): near the limit Node dies of OOM, so shed first. */
function heapThresholdBytes(ratio: number): number {
  return ratio <= 0 ? 0 : Math.max(1, Math.floor(ratio * getHeapStatistics().heap_size_limit))
}

/**
 * Sheds load with 503 `overloaded` and `Retry-After` while event-loop delay/utilisation or memory is
 * over its threshold (each 0 = not checked), sampled every FUNNEL_SHED_SAMPLE_INTERVAL_MS. Probes and
 * /metrics are always answered so an orchestrator can see the instance and its numbers; /readyz
 * answers 503 while requests are being shed (see SheddingReadiness), so a load balancer routes around it.
 *
 * Only the heap check is on by default. Event-loop delay is a mean over one sample, so a single long
 * synchronous step (loading an ONNX model, a CPU-starved host) sheds the whole next interval; its
 * threshold depends on the deployment, which sets it (the README suggests 1000 ms).
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    const retryAfter = config.shedRetryAfterSeconds
    const readiness = config.shedNotReadyAfter > 0 ? new SheddingReadiness({ notReadyAfter: config.shedNotReadyAfter, windowMs: config.shedReadyWindowMs }) : undefined
    app.decorate('sheddingNotReadyReason', () => readiness?.notReadyReason())
    await app.register(underPressure, {
      maxEventLoopDelay: config.shedMaxEventLoopDelayMs,
      maxEventLoopUtilization: config.shedMaxEventLoopUtilization,
      eventLoopUtilizationMode: 'interval',
      maxHeapUsedBytes: heapThresholdBytes(config.shedMaxHeapUsedRatio),
      maxRssBytes: config.shedMaxRssBytes,
      sampleInterval: config.shedSampleIntervalMs,
      retryAfter,
      pressureHandler: (request, reply, type, value) => {
        if (isOperationsRoute(request)) return undefined
        readiness?.recordShed()
        reply.header('retry-after', String(retryAfter))
        // A rejection reaches the app's error handler, which renders the catalogue's error body.
        return Promise.reject(errors.overloaded(describePressure(type, value, config), retryAfter))
      },
    })
  },
  { name: 'funnel-load-shedding' },
)
