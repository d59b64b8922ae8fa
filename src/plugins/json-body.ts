import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { JsonParseWorker } from '../json-parse-worker.js'

export interface JsonBodyOptions {
  /** Bodies of at least this many bytes are parsed on the worker thread; 0 parses every body inline. */
  workerMinBytes: number
}

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS'])

/**
 * The `application/json` body parser: Fastify's secure parser (prototype and constructor poisoning
 * refused) for small bodies, the same parser on a worker thread for large ones (see JsonParseWorker),
 * so a 10 MB batch does not hold the event loop while it is decoded and parsed. DELETE and GET take
 * no body, yet some clients send `content-type: application/json` on every request; an empty body
 * there is no body, not malformed JSON.
 */
export default fp(
  async function jsonBody(app: FastifyInstance, options: JsonBodyOptions) {
    const parseInline = app.getDefaultJsonParser('error', 'error')
    const worker = options.workerMinBytes > 0 ? await JsonParseWorker.start({ log: (obj, msg) => app.log.warn(obj, msg) }) : undefined
    app.addHook('onClose', async () => worker?.close())
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request: FastifyRequest, body: Buffer, done) => {
      if (body.length === 0 && BODYLESS_METHODS.has(request.method)) return done(null, undefined)
      if (worker?.alive === true && body.length >= options.workerMinBytes) {
        worker.parse(body).then(
          (value) => done(null, value),
          // Malformed or poisoned: the same error Fastify's inline parser gives. Otherwise the worker
          // stopped with this body (its bytes went with it): a 503 the client can retry.
          (error: Error) => done(error instanceof SyntaxError ? new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY() : error, undefined),
        )
        return
      }
      parseInline(request, body.toString('utf8'), done)
    })
    app.decorate('jsonParseWorker', worker)
  },
  { name: 'funnel-json-body' },
)

declare module 'fastify' {
  interface FastifyInstance {
    /** The worker that parses large JSON bodies (undefined when FUNNEL_JSON_WORKER_MIN_BYTES is 0). */
    jsonParseWorker: JsonParseWorker | undefined
  }
}
