import { Type, type Static } from 'typebox'
import { STAGE_NAMES } from '../candidate.js'
import { CollectionName, LiteralUnion } from './common.js'
import { FUSION_METHODS, RerankOptionsSchema, RETRIEVAL_MODES } from './search.js'

/** In order of simplicity: on an exact tie in held-out log-loss the earlier one wins. */
export const CALIBRATION_METHODS = ['platt', 'temperature', 'listwise', 'isotonic'] as const
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number]

/** Hits per judged query: the depth `score` is usually read at; calibration depends on it (see README). */
export const DEFAULT_CALIBRATION_TOP_K = 10

const Text = Type.String({ minLength: 1 })
const Label = Type.Number({ description: 'relevance: 0 or 1, or a graded label with label_threshold' })
const Method = Type.Enum(CALIBRATION_METHODS)

/** ECE (15 bins), Brier score and log-loss of one set of probabilities. */
export const CalibrationSummarySchema = Type.Object({ ece: Type.Number(), brier: Type.Number(), log_loss: Type.Number() })
export type CalibrationSummaryBody = Static<typeof CalibrationSummarySchema>

/** What is stored with each calibrator: how well it did on held-out folds and what it was fitted on. */
export const CalibrationMetricsSchema = Type.Object({
  method: Type.Enum(CALIBRATION_METHODS),
  reason: Type.String({ description: 'why this method was chosen (cross-validated log-loss of each candidate)' }),
  n: Type.Integer({ description: 'labelled examples the calibrator was fitted on' }),
  positives: Type.Integer({ description: 'of which relevant' }),
  folds: Type.Integer(),
  seed: Type.Integer(),
  baseline: Type.Union([Type.Literal('identity'), Type.Literal('cosine'), Type.Literal('sigmoid'), Type.Literal('window-softmax'), Type.Literal('rank')], {
    description:
      "how the raw score is read as a probability for 'before': as is, (cosine + 1) / 2, sigmoid(score), the window softmax, or 1 / rank (a listwise stage, as relevance reads it uncalibrated)",
  }),
  held_out: Type.Object(
    { before: CalibrationSummarySchema, after: CalibrationSummarySchema },
    { description: 'out-of-fold ECE (15 bins), Brier score and log-loss of the raw score (before) and the calibrated probability (after)' },
  ),
  source: Type.Object({
    kind: Type.Union([Type.Literal('examples'), Type.Literal('search')], {
      description: 'examples: each labelled (query, document) pair scored directly; search: the hits of each judged query, unjudged hits counted as not relevant',
    }),
    queries: Type.Integer({ description: 'distinct queries' }),
    collection: Type.Optional(Type.String()),
    mode: Type.Optional(LiteralUnion(RETRIEVAL_MODES)),
    top_k: Type.Optional(Type.Integer({ description: 'hits labelled per query' })),
    judged_relevant: Type.Optional(Type.Integer({ description: 'relevant judgements given' })),
    retrieved_relevant: Type.Optional(Type.Integer({ description: 'of which found in the top_k hits' })),
    label_threshold: Type.Optional(Type.Number({ description: 'graded labels at or above this counted as relevant' })),
  }),
})
export type CalibrationMetrics = Static<typeof CalibrationMetricsSchema>

/** A labelled (query, document) pair: the document by its text, or by its id in the collection. */
export const LabelledExampleSchema = Type.Object(
  {
    query: Text,
    document: Type.Optional(Type.String({ minLength: 1, description: 'document text: the pair is scored directly' })),
    id: Type.Optional(Type.String({ minLength: 1, description: 'document id in the collection' })),
    label: Label,
  },
  { additionalProperties: false },
)
export type LabelledExample = Static<typeof LabelledExampleSchema>

/** A relevance judgement in the BEIR qrels sense: query (text, optional id), document id, label. */
export const JudgementSchema = Type.Object({ query_id: Type.Optional(Text), query: Text, id: Text, label: Label }, { additionalProperties: false })
export type Judgement = Static<typeof JudgementSchema>

/** POST /v1/calibration/fit. */
export const FitCalibrationRequestSchema = Type.Object(
  {
    examples: Type.Optional(
      Type.Array(LabelledExampleSchema, {
        minItems: 1,
        description:
          'labelled pairs. With document text each pair is scored directly (dense cosine; lexical BM25 of the indexed document with that id). ' +
          'With ids only, each query is searched in the collection and its hits labelled, like qrels.',
      }),
    ),
    qrels: Type.Optional(
      Type.Array(JudgementSchema, {
        minItems: 1,
        description: 'judgements: each query is searched in the collection and its top_k hits labelled; unjudged hits count as not relevant (as in BEIR)',
      }),
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
    mode: Type.Optional(LiteralUnion(RETRIEVAL_MODES)),
    top_k: Type.Optional(Type.Integer({ minimum: 1, description: `hits labelled per query (default ${DEFAULT_CALIBRATION_TOP_K})` })),
    fusion: Type.Optional(LiteralUnion(FUSION_METHODS, { description: 'fusion method in hybrid mode (default rrf); the fused calibrator is keyed by it' })),
    rerank: Type.Optional(
      Type.Object(RerankOptionsSchema.properties, {
        additionalProperties: false,
        description:
          "a rerank cascade run on every labelling search (as search's rerank; {} = the server's default cascade), so its stages' scores can be calibrated, keyed by reranker model; the default stage fitted is the last one. A labelling search whose cascade is cut short (degraded) fails the fit",
      }),
    ),
  },
  { additionalProperties: false },
)
export type FitCalibrationRequest = Static<typeof FitCalibrationRequestSchema>

/** One stage's new calibrator, as the fit answers it. */
export const StageFitSchema = Type.Object({
  stage: Type.Enum(STAGE_NAMES),
  model: Type.String({ description: "the calibrator's key: embedding model (dense), 'bm25' (lexical), fusion method (fused) or reranker model" }),
  method: Method,
  version: Type.Integer(),
  n: Type.Integer(),
  positives: Type.Integer(),
  held_out: Type.Object(
    { before: CalibrationSummarySchema, after: CalibrationSummarySchema },
    { description: 'out-of-fold ECE (15 bins), Brier score and log-loss, raw score vs calibrated' },
  ),
  baseline: CalibrationMetricsSchema.properties.baseline,
  reason: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
})
export type StageFit = Static<typeof StageFitSchema>

export const FitCalibrationResponseSchema = Type.Object({ calibrators: Type.Array(StageFitSchema), source: CalibrationMetricsSchema.properties.source })
export type FitCalibrationResponse = Static<typeof FitCalibrationResponseSchema>

/** The active calibrator of one (model, stage). */
export const ActiveCalibratorSchema = Type.Object({
  model: Type.String(),
  stage: Type.Enum(STAGE_NAMES),
  version: Type.Integer(),
  method: Method,
  created_at: Type.String({ format: 'date-time' }),
  metrics: CalibrationMetricsSchema,
})
export type ActiveCalibrator = Static<typeof ActiveCalibratorSchema>

export const ListCalibratorsResponseSchema = Type.Object({ calibrators: Type.Array(ActiveCalibratorSchema) })
export type ListCalibratorsResponse = Static<typeof ListCalibratorsResponseSchema>
