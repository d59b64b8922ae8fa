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
      listwise: { windowSize: config.listwiseWindow, stride: config.listwiseStride },
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
      log: (obj, msg) => app.log.info(obj, msg),
    })
    app.decorate('rerankers', pool)
    app.decorate('rerankDefaults', { stages: parseRerankStages(config.rerankStages), budgetMs: config.rerankBudgetMs, maxCandidates: config.rerankMaxCandidates })
    app.addHook('onClose', async () => pool.close())
  },
  { name: 'funnel-rerankers' },
)
