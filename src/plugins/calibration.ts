import fp from 'fastify-plugin'
import { CalibrationService } from '../calibration/calibration-service.js'
import { CalibratorStore, type Calibrators } from '../calibration/calibrator-store.js'
import type { Config } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Active calibrators by (model, stage), cached; `apply` turns a raw stage score into P(relevant). */
    calibrators: CalibratorStore
    calibration: CalibrationService
  }
}

/**
 * Calibrators stored in the service's SQLite database (table `calibrators`) and the service that fits
 * them. Holds no resource of its own: the store plugin closes the database.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const calibrators = new CalibratorStore(app.store.db)
    const service = new CalibrationService({
      store: app.store,
      models: app.models,
      lexical: app.lexicalIndexes,
      search: app.searchPipeline,
      calibrators,
      maxTopK: opts.config.maxTopK,
    })
    app.decorate('calibrators', calibrators)
    app.decorate('calibration', service)
    app.searchPipeline.useCalibrators(calibrators)
  },
  { name: 'funnel-calibration', dependencies: ['funnel-store', 'funnel-models', 'funnel-pipeline'] },
)
