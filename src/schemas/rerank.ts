import { Type, type Static } from 'typebox'
import { ref } from './common.js'

/**
 * Where a `relevance_score` came from:
 * - `calibrator`: the fitted calibrator of (model, stage) (POST /v1/calibration/fit), a probability;
 * - `sigmoid`: sigmoid(raw logit), the cross-encoder's own reading of its logit as P(relevant);
 * - `cosine`: (cosine + 1) / 2, for a bi-encoder stage;
 * - `rank`: a listwise stage's 1/(rank + 1), already in (0, 1] but a rank, not a probability.
 */
export const RELEVANCE_SOURCES = ['calibrator', 'sigmoid', 'cosine', 'rank'] as const
export type RelevanceSource = (typeof RELEVANCE_SOURCES)[number]

/** How `relevance_score` was read from the raw score (src/rerank/relevance.ts). */
export const RelevanceSourceSchema = Type.Unsafe<RelevanceSource>({
  $id: 'RelevanceSource',
  type: 'string',
  enum: [...RELEVANCE_SOURCES],
  description:
    'calibrator: P(relevant) from the calibrator fitted for this model (POST /v1/calibration/fit); sigmoid: sigmoid(cross-encoder logit), ' +
    "the model's own reading of its logit; cosine: (cosine + 1) / 2; rank: a listwise stage's 1/(rank + 1), in (0, 1] but not a probability",
})

/** Time spent reranking and in the whole request, as both rerank endpoints report it. */
export const RerankTimingsSchema = Type.Object({ rerank_ms: Type.Number(), total_ms: Type.Number() })

/** POST /v1/rerank: the Cohere v1 / TEI / Infinity request. */
export const RerankRequestSchema = Type.Object(
  {
    query: Type.String({ minLength: 1 }),
    documents: Type.Array(
      Type.Union([Type.String(), Type.Object({ id: Type.Optional(Type.String({ maxLength: 512 })), text: Type.String() }, { additionalProperties: false })]),
      { minItems: 1, description: 'texts, or { id, text } objects (at most FUNNEL_RERANK_MAX_DOCUMENTS)' },
    ),
    model: Type.Optional(Type.String({ minLength: 1, description: 'reranker model id (default: the first stage of FUNNEL_RERANK_STAGES)' })),
    top_n: Type.Optional(Type.Integer({ minimum: 1, description: 'return only the best n (default all)' })),
    return_documents: Type.Optional(Type.Boolean({ description: 'echo each text in `document` (default false)' })),
  },
  { additionalProperties: false, $id: 'RerankRequest' },
)
export type RerankRequest = Static<typeof RerankRequestSchema>

export const RerankResponseSchema = Type.Object(
  {
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'position of the document in the request' }),
        id: Type.Optional(Type.String()),
        relevance_score: Type.Number({ minimum: 0, maximum: 1, description: 'relevance in 0..1, higher is more relevant; how it was read from raw_score is `relevance`' }),
        score: Type.Number({ minimum: 0, maximum: 1, description: 'same as relevance_score (the TEI / Infinity field name)' }),
        raw_score: Type.Number({ description: "the reranker's own score: cross-encoder logit, embedding cosine, listwise window log-odds (log p/(1-p) of coming first in its last window)" }),
        document: Type.Optional(Type.Object({ text: Type.String() })),
      }),
    ),
    model: Type.String(),
    relevance: ref(RelevanceSourceSchema),
    truncated_documents: Type.Integer({ description: 'documents cut to fit the model context' }),
    timings: RerankTimingsSchema,
  },
  { $id: 'RerankResponse' },
)
export type RerankResponse = Static<typeof RerankResponseSchema>
