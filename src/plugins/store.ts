import fp from 'fastify-plugin'
import { CalibratorStore } from '../calibration/calibrator-store.js'
import type { Config } from '../config.js'
import type { Backend } from '../store/backend.js'
import { EmbeddedBackend } from '../store/embedded/embedded-backend.js'
import { weaviateBackendFromConfig } from '../store/weaviate/weaviate-backend.js'

/** How often a replica reloads the active calibrators from a shared backend (a fit on another replica shows up within this). */
const CALIBRATOR_REFRESH_MS = 10_000

declare module 'fastify' {
  interface FastifyInstance {
    /** Where collections, documents, vectors and calibrators live (see src/store/backend.ts). */
    backend: Backend
    /** Active calibrators by (model, stage), cached; `apply` turns a raw stage score into P(relevant). */
    calibrators: CalibratorStore
  }
}

/**
 * Opens the storage backend (the one durable resource: FUNNEL_BACKEND embedded or weaviate) and
 * closes it last, after every index is saved. With a shared backend, other replicas may fit
 * calibrators, so the active ones are reloaded every CALIBRATOR_REFRESH_MS.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    const backend: Backend =
      config.backend === 'weaviate'
        ? weaviateBackendFromConfig(config, app.log.child({ backend: 'weaviate' }))
        : new EmbeddedBackend({ dataDir: config.dataDir, indexSaveIntervalMs: config.indexSaveIntervalMs, log: (obj, msg) => app.log.info(obj, msg) })
    const calibrators = await CalibratorStore.open(backend.calibrators)
    app.decorate('backend', backend)
    app.decorate('calibrators', calibrators)
    const refresh =
      backend.kind === 'embedded'
        ? undefined
        : setInterval(() => calibrators.refresh().catch((error: unknown) => app.log.warn({ err: error }, 'calibrators not refreshed')), CALIBRATOR_REFRESH_MS).unref()
    app.addHook('onClose', async () => {
      clearInterval(refresh)
      await backend.close()
    })
  },
  { name: 'funnel-store' },
)
