import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { readManifest } from '../models/manifest.js'
import { ModelRegistry } from '../models/model-registry.js'

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelRegistry
    /** Why the service is not ready yet (undefined once the default model is loaded). */
    modelsNotReady: () => string | undefined
  }
}

/**
 * Owns the model registry. The default embedding model starts loading (or building, on first run) in
 * the background so /healthz answers at once while /readyz says 503 until it is loaded.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    const models = new ModelRegistry({
      modelsDir: config.modelsDir,
      manifest: readManifest(),
      defaultEmbeddingModel: config.embeddingModel,
      buildDefaultModel: config.buildDefaultModel,
      batchSize: config.embedBatchSize,
      maxPaddingRatio: config.embedMaxPaddingRatio,
      session: { intraOpThreads: config.onnxIntraOpThreads, allowSpinning: config.onnxAllowSpinning, worker: config.onnxWorker },
      serving: { microBatch: config.microBatch, maxBatchTexts: config.microBatchMaxTexts, queryCacheSize: config.queryCacheSize },
      log: (obj, msg) => app.log.info(obj, msg),
      onOnnxRun: (model, ms, batchSize) => app.metrics.observeOnnxRun(model, ms, batchSize),
      onEmbedBatch: (model, info) => app.metrics.observeEmbedBatch(model, info.callers),
      onQueryCacheLookup: (model, hit) => app.metrics.countQueryCacheLookup(model, hit),
    })
    let status: string | undefined = `loading default model '${config.embeddingModel}'`
    const loading = models.embedder().then(
      () => (status = undefined),
      (error: unknown) => {
        status = `default model '${config.embeddingModel}' failed to load: ${(error as Error).message}`
        app.log.error({ err: error, model: config.embeddingModel }, 'default model failed to load')
      },
    )
    app.decorate('models', models)
    app.decorate('modelsNotReady', () => status)
    app.addHook('onClose', async () => {
      await loading
      await models.close()
    })
  },
  { name: 'funnel-models' },
)
