import swagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { errors, isFunnelError } from './errors.js'
import { errorLogLevel, prettyStream, wantsPretty } from './logging.js'
import type { LifecycleProbe } from './pipeline/collection-lifecycle.js'
import calibrationPlugin from './plugins/calibration.js'
import modelsPlugin from './plugins/models.js'
import pipelinePlugin from './plugins/pipeline.js'
import rerankersPlugin from './plugins/rerankers.js'
import productionPlugins, { generateRequestId } from './plugins/production.js'
import storePlugin from './plugins/store.js'
import calibrationRoutes from './routes/calibration.js'
import collectionsRoutes from './routes/collections.js'
import documentsRoutes from './routes/documents.js'
import embeddingsRoutes from './routes/embeddings.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import { COMPONENT_SCHEMAS } from './schemas/components.js'
import rerankRoutes from './routes/rerank.js'
import rerankV2Routes from './routes/rerank-v2.js'
import searchRoutes from './routes/search.js'
import jsonBody from './plugins/json-body.js'

export const API_VERSION = '0.1.0'

/** Maps Fastify's own 4xx errors (parsing, limits, validation) onto the catalogue's codes. */
function frameworkErrorCode(error: FastifyError): string {
  if (error.validation !== undefined) return 'invalid_request'
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'payload_too_large'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type'
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'invalid_request'
    default:
      return error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? 'malformed_json' : 'invalid_request'
  }
}

/** Request fields whose length limit is a setting: exceeding one names the setting to raise. */
const LENGTH_SETTINGS: Readonly<Record<string, string>> = {
  'body.query': 'FUNNEL_MAX_QUERY_CHARS',
  'body.documents.text': 'FUNNEL_MAX_DOCUMENT_CHARS',
}

/** A validation message naming the field (`body.top_k`) and, for enums, the allowed values. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0]
  if (first === undefined) return error.message
  const context = error.validationContext ?? 'body'
  const field = [context, ...first.instancePath.split('/').filter(Boolean)].join('.')
  const params = first.params as { allowedValues?: unknown[]; missingProperty?: string; additionalProperty?: string }
  if (params.missingProperty !== undefined) return `${field}.${params.missingProperty}: is required`
  if (params.additionalProperty !== undefined) return `${field}.${params.additionalProperty}: is not a known field`
  const allowed = params.allowedValues === undefined ? '' : `; allowed: ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
  const setting = first.keyword === 'maxLength' ? LENGTH_SETTINGS[field.replace(/\.\d+(?=\.|$)/g, '')] : undefined
  return `${field}: ${first.message ?? 'is invalid'}${allowed}${setting === undefined ? '' : ` (${setting})`}`
}

/**
 * Request validation. `unicode: false`: minLength/maxLength count UTF-16 code units (JavaScript's and
 * Java's String.length, so Elasticsearch's character limits too) rather than code points, which ajv
 * finds by scanning every character: ~100 ms of CPU on one synchronous stretch for a 10 MB batch,
 * against O(1). A text of astral characters (emoji) therefore reaches a limit at half as many
 * characters. Ajv calls the option deprecated and warns once per instance; that one warning is dropped.
 */
const AJV_OPTIONS = {
  allErrors: false,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: true,
  unicode: false,
  logger: {
    log: (...args: unknown[]) => console.log(...args),
    warn: (...args: unknown[]) => {
      if (!(typeof args[0] === 'string' && args[0].startsWith('DEPRECATED: option unicode'))) console.warn(...args)
    },
    error: (...args: unknown[]) => console.error(...args),
  },
} as const

/** Test hooks that reach into the app's services (never set in production). */
export interface AppHooks {
  lifecycleProbe?: LifecycleProbe
}

export async function buildApp(config: Config, options: FastifyServerOptions = {}, hooks: AppHooks = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel, ...(wantsPretty(config.logFormat) && { stream: prettyStream() }) },
    bodyLimit: config.bodyLimitBytes,
    genReqId: generateRequestId,
    // Document ids may be 512 characters, i.e. up to ~4.6k when percent-encoded.
    routerOptions: { maxParamLength: 5000 },
    // Router-level failures (bad percent-encoding, over-long params) answer in the catalogue shape too.
    frameworkErrors: (error, _request, reply) => {
      const status = (error as FastifyError).statusCode ?? 400
      const body = { error: { code: status === 414 ? 'uri_too_long' : 'invalid_request', message: error.message } }
      void (reply as unknown as FastifyReply).code(status).send(body)
    },
    ajv: { customOptions: AJV_OPTIONS },
    // Response serializers validate anyOf branches with ajv; compiled lazily, the first response of a
    // shape (a hybrid search with PRF) spent ~190 ms of one synchronous stretch compiling them.
    // Compiled when the routes' serializers are built, at startup, instead.
    serializerOpts: { compileValidators: true },
    ...options,
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(jsonBody, { workerMinBytes: config.jsonWorkerMinBytes })

  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Funnel',
        version: API_VERSION,
        description: 'Retrieval and reranking service: ONNX embeddings, HNSW with a Matryoshka funnel, exact rescoring.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'an API key from FUNNEL_API_KEYS (x-api-key is accepted too)' },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'health' },
        { name: 'collections' },
        { name: 'documents' },
        { name: 'search' },
        { name: 'embeddings' },
        { name: 'rerank' },
        { name: 'calibration' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isFunnelError(error)) {
      const level = errorLogLevel(error.statusCode, error.code)
      if (level === 'error') request.log.error({ err: error }, error.message)
      else if (error.statusCode >= 500) request.log[level]({ code: error.code }, error.message)
      return reply.code(error.statusCode).send({ error: { code: error.code, message: error.message } })
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      const message = error.validation !== undefined ? validationMessage(error) : error.message
      return reply.code(status).send({ error: { code: frameworkErrorCode(error), message } })
    }
    if (error.code === 'SQLITE_FULL') {
      request.log.error({ err: error }, 'disk full')
      const full = errors.storageFull()
      return reply.code(full.statusCode).send({ error: { code: full.code, message: full.message } })
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply.code(500).send({ error: { code: 'internal_error', message: 'internal error; see the server log for request ' + request.id } })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'route_not_found', message: `no route for ${request.method} ${request.url.split('?')[0]}` } }),
  )

  // -- production plugins (auth, limits, metrics, load shedding) are registered here --
  await app.register(productionPlugins, { config })
  // -- end production plugins --

  await app.register(storePlugin, { config })
  await app.register(modelsPlugin, { config })
  await app.register(rerankersPlugin, { config })
  await app.register(pipelinePlugin, { config, ...(hooks.lifecycleProbe !== undefined && { lifecycleProbe: hooks.lifecycleProbe }) })
  await app.register(calibrationPlugin, { config })

  // /metrics first: it was registered with the production plugins, and the OpenAPI document keeps its path order.
  await app.register(metricsRoutes)
  await app.register(healthRoutes)
  await app.register(collectionsRoutes)
  await app.register(documentsRoutes, { config })
  await app.register(searchRoutes, { config })
  await app.register(embeddingsRoutes, { config })
  await app.register(calibrationRoutes)
  await app.register(rerankRoutes, { config })
  await app.register(rerankV2Routes, { config })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  return app
}
