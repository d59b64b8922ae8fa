import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { CalibrationService } from '../pipeline/calibration-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    calibration: CalibrationService
  }
}

/** The service that fits calibrators from labelled data (they are stored by the backend, see the store plugin). */
export default fp(
  async (app, opts: { config: Config }) => {
    app.decorate(
      'calibration',
      new CalibrationService({
        backend: app.backend,
        models: app.models,
        search: app.searchPipeline,
        calibrators: app.calibrators,
        maxTopK: opts.config.maxTopK,
      }),
    )
  },
  { name: 'funnel-calibration', dependencies: ['funnel-store', 'funnel-models', 'funnel-pipeline'] },
)
