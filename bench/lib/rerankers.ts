import type { Config } from '../../src/config.js'
import { readManifest } from '../../src/models/manifest.js'
import { RerankerPool } from '../../src/rerank/reranker-pool.js'

/** The reranker pool a bench command uses: the server's settings, the repo's manifest, no logging. */
export function benchRerankerPool(config: Config): RerankerPool {
  return new RerankerPool({
    modelsDir: config.modelsDir,
    manifest: readManifest(),
    listwise: { windowSize: config.listwiseWindow, stride: config.listwiseStride, fence: config.listwiseFence },
    ...(config.onnxIntraOpThreads > 0 && { intraOpThreads: config.onnxIntraOpThreads }),
    log: () => undefined,
  })
}
