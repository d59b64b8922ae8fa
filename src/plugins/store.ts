import fp from 'fastify-plugin'
import { CalibratorStore } from '../calibration/calibrator-store.js'
import type { Config } from '../config.js'
import type { Backend } from '../store/backend.js'
import { EmbeddedBackend } from '../store/embedded/embedded-backend.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where collections, documents, vectors and calibrators live (see src/store/backend.ts). */
    backend: Backend
    /** Active calibrators by (model, stage), cached; `apply` turns a raw stage score into P(relevant). */
    calibrators: CalibratorStore
  }
}

/** Opens the storage backend (the one durable resource) and closes it last, after every index is saved. */
export default fp(
  async (app, opts: { config: Config }) => {
    const backend: Backend = new EmbeddedBackend({
      dataDir: opts.config.dataDir,
      indexSaveIntervalMs: opts.config.indexSaveIntervalMs,
      log: (obj, msg) => app.log.info(obj, msg),
    })
    app.decorate('backend', backend)
    app.decorate('calibrators', await CalibratorStore.open(backend.calibrators))
    app.addHook('onClose', async () => backend.close())
  },
  { name: 'funnel-store' },
)
