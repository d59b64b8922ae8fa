import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MIN_CALIBRATION_EXAMPLES, MIN_EXAMPLES_PER_LABEL } from '../calibration/fit.js'
import { FitCalibrationRequestSchema, FitCalibrationResponseSchema, ListCalibratorsResponseSchema } from '../schemas/calibration.js'
import { errorResponses } from '../schemas/errors.js'

const calibration: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/calibration/fit',
    {
      schema: {
        operationId: 'fitCalibration',
        tags: ['calibration'],
        summary: 'Fit, store and activate a relevance-probability calibrator per stage from labelled examples or qrels',
        description:
          `Needs at least ${MIN_CALIBRATION_EXAMPLES} labelled scores per stage with at least ${MIN_EXAMPLES_PER_LABEL} of each label (422 otherwise). ` +
          'Each stage gets a new version, made active only when every requested stage fitted.',
        body: FitCalibrationRequestSchema,
        response: { 200: FitCalibrationResponseSchema, ...errorResponses(400, 404, 422, 503) },
      },
    },
    async (request) => {
      const outcome = await app.calibration.fit(request.body, { ...(request.workSignal !== null && { signal: request.workSignal }) })
      request.log.info({ stages: outcome.calibrators.map((c) => ({ stage: c.stage, model: c.model, version: c.version, ece: c.held_out.after.ece })) }, 'calibrators fitted')
      return { source: outcome.source, calibrators: outcome.calibrators.map(({ fit: _fit, ...report }) => report) }
    },
  )

  app.get(
    '/v1/calibration',
    {
      schema: {
        operationId: 'getCalibration',
        tags: ['calibration'],
        summary: 'List the active calibrator of each (model, stage) with its version and held-out metrics',
        response: { 200: ListCalibratorsResponseSchema },
      },
    },
    async () => ({
      calibrators: (await app.calibrators.list()).map((c) => ({
        model: c.model,
        stage: c.stage,
        version: c.version,
        method: c.calibrator.method,
        created_at: c.created_at,
        metrics: c.metrics,
      })),
    }),
  )
}

export default calibration
