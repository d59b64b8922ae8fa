import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { readManifest } from '../models/manifest.js'
import type { RerankDefaults } from '../pipeline/rerank-stage.js'
import { RerankerPool, parseRerankStages } from '../rerank/reranker-pool.js'

declare module 'fastify' {
  interface FastifyInstance {
    rerankers: RerankerPool
    rerankDefaults: RerankDefaults
  }
}

/** The reranker pool (cross-encoders, listwise LLMs, the remote endpoint); disposes every model on close. */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    const pool = new RerankerPool({
      modelsDir: config.modelsDir,
      manifest: readManifest(),
      listwise: { windowSize: config.listwiseWindow, stride: config.listwiseStride, fence: config.listwiseFence },
      ...(config.listwiseRemoteUrl !== '' && {
        remote: {
          baseUrl: config.listwiseRemoteUrl,
          model: config.listwiseRemoteModel,
          api: config.listwiseRemoteApi,
          tokenizerId: config.listwiseRemoteTokenizer,
          timeoutMs: config.listwiseRemoteTimeoutMs,
        },
      }),
      intraOpThreads: config.onnxIntraOpThreads,
      worker: config.onnxWorker,
      log: (obj, msg) => app.log.info(obj, msg),
    })
    const stages = parseRerankStages(config.rerankStages)
    app.decorate('rerankers', pool)
    app.decorate('rerankDefaults', { stages, budgetMs: config.rerankBudgetMs, maxCandidates: config.rerankMaxCandidates })
    // GGUF stages of the default cascade open in the background; /readyz waits for them and names a failure.
    await pool.preloadLlmStages(stages.map((s) => s.model))
    app.addHook('onClose', async () => pool.close())
  },
  { name: 'funnel-rerankers' },
)
