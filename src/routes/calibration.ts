import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CalibrationMetricsSchema } from '../calibration/calibrator-store.js'
import { STAGE_NAMES } from '../candidate.js'
import { DEFAULT_CALIBRATION_TOP_K } from '../calibration/calibration-service.js'
import { CALIBRATION_METHODS, MIN_CALIBRATION_EXAMPLES, MIN_EXAMPLES_PER_LABEL } from '../calibration/fit.js'
import { CollectionName, errorResponses } from './schemas.js'

const Text = Type.String({ minLength: 1 })
const Label = Type.Number({ description: 'relevance: 0 or 1, or a graded label with label_threshold' })
const Mode = Type.Union([Type.Literal('dense'), Type.Literal('lexical'), Type.Literal('hybrid')])
const Method = Type.Enum(CALIBRATION_METHODS)
const Summary = Type.Object({ ece: Type.Number(), brier: Type.Number(), log_loss: Type.Number() })

const FitBody = Type.Object(
  {
    examples: Type.Optional(
      Type.Array(
        Type.Object(
          {
            query: Text,
            document: Type.Optional(Type.String({ minLength: 1, description: 'document text: the pair is scored directly' })),
            id: Type.Optional(Type.String({ minLength: 1, description: 'document id in the collection' })),
            label: Label,
          },
          { additionalProperties: false },
        ),
        {
          minItems: 1,
          description:
            'labelled pairs. With document text each pair is scored directly (dense cosine; lexical BM25 of the indexed document with that id). ' +
            'With ids only, each query is searched in the collection and its hits labelled, like qrels.',
        },
      ),
    ),
    qrels: Type.Optional(
      Type.Array(
        Type.Object({ query_id: Type.Optional(Text), query: Text, id: Text, label: Label }, { additionalProperties: false }),
        {
          minItems: 1,
          description: 'judgements: each query is searched in the collection and its top_k hits labelled; unjudged hits count as not relevant (as in BEIR)',
        },
      ),
    ),
    collection: Type.Optional(CollectionName),
    model: Type.Optional(Type.String({ minLength: 1, description: 'embedding model for examples without a collection (default: the server default)' })),
    stages: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        uniqueItems: true,
        description: `stages to calibrate: ${STAGE_NAMES.join(', ')}; default: the last stage that ran (dense for examples with document text)`,
      }),
    ),
    label_threshold: Type.Optional(Type.Number({ description: 'graded labels at or above this count as relevant' })),
    folds: Type.Optional(Type.Integer({ minimum: 2, maximum: 20, description: 'cross-validation folds (default 5)' })),
    mode: Type.Optional(Mode),
    top_k: Type.Optional(Type.Integer({ minimum: 1, description: `hits labelled per query (default ${DEFAULT_CALIBRATION_TOP_K})` })),
    fusion: Type.Optional(Type.Union([Type.Literal('rrf'), Type.Literal('weighted')], { description: 'fusion method in hybrid mode (default rrf); the fused calibrator is keyed by it' })),
  },
  { additionalProperties: false },
)

const StageFit = Type.Object({
  stage: Type.Enum(STAGE_NAMES),
  model: Type.String({ description: "the calibrator's key: embedding model (dense), 'bm25' (lexical), fusion method (fused) or reranker model" }),
  method: Method,
  version: Type.Integer(),
  n: Type.Integer(),
  positives: Type.Integer(),
  held_out: Type.Object({ before: Summary, after: Summary }, { description: 'out-of-fold ECE (15 bins), Brier score and log-loss, raw score vs calibrated' }),
  baseline: CalibrationMetricsSchema.properties.baseline,
  reason: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
})

const FitResponse = Type.Object({ calibrators: Type.Array(StageFit), source: CalibrationMetricsSchema.properties.source })

const ActiveCalibrator = Type.Object({
  model: Type.String(),
  stage: Type.Enum(STAGE_NAMES),
  version: Type.Integer(),
  method: Method,
  created_at: Type.String({ format: 'date-time' }),
  metrics: CalibrationMetricsSchema,
})

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
        body: FitBody,
        response: { 200: FitResponse, ...errorResponses(400, 404, 422, 503) },
      },
    },
    async (request) => {
      const outcome = await app.calibration.fit(request.body)
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
        response: { 200: Type.Object({ calibrators: Type.Array(ActiveCalibrator) }) },
      },
    },
    async () => ({
      calibrators: app.calibrators.list().map((c) => ({
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
