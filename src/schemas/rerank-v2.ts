import { Type, type Static } from 'typebox'
import { ref, StringEnum } from './common.js'
import { RelevanceSourceSchema, RerankTimingsSchema } from './rerank.js'

/** POST /v2/rerank: Cohere's v2 request, with a Funnel model id. */
export const RerankV2RequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: "a Funnel reranker model id (not a Cohere model name); an unknown one answers 400 naming the models on this server" }),
    query: Type.String({ minLength: 1 }),
    documents: Type.Array(Type.String(), { minItems: 1, description: 'texts to rank (at most FUNNEL_RERANK_MAX_DOCUMENTS)' }),
    top_n: Type.Optional(Type.Integer({ minimum: 1, description: 'return only the best n; more than the documents returns them all, as Cohere does' })),
    max_tokens_per_doc: Type.Optional(
      Type.Integer({ minimum: 1, description: "accepted for compatibility; documents are cut to the model's own context instead (a warning in meta.warnings says so)" }),
    ),
    priority: Type.Optional(Type.Integer({ minimum: 0, description: 'accepted for compatibility; Funnel does not prioritise requests' })),
    relevant_spans: Type.Optional(
      Type.Object(
        {
          mode: StringEnum(['enabled', 'disabled']),
          threshold: Type.Optional(Type.Number()),
          max_spans: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { description: "Cohere v5 relevant spans: only mode 'disabled' is supported" },
      ),
    ),
  },
  { additionalProperties: false, $id: 'RerankV2Request' },
)
export type RerankV2Request = Static<typeof RerankV2RequestSchema>

export const RerankV2ResponseSchema = Type.Object(
  {
    id: Type.String({ description: 'a fresh id per request' }),
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'position of the document in the request' }),
        relevance_score: Type.Number({ minimum: 0, maximum: 1, description: 'relevance in 0..1 (see `relevance` for how it was read from raw_score)' }),
        raw_score: Type.Number({ description: "the reranker's own score: cross-encoder logit, embedding cosine, listwise window log-odds (log p/(1-p) of coming first in its last window)" }),
      }),
      { description: 'best first' },
    ),
    meta: Type.Object({
      api_version: Type.Object({ version: Type.Literal('2') }),
      billed_units: Type.Object({ search_units: Type.Integer({ description: 'one per 100 documents, as Cohere counts them (nothing is billed)' }) }),
      warnings: Type.Optional(Type.Array(Type.String())),
    }),
    model: Type.String(),
    relevance: ref(RelevanceSourceSchema),
    truncated_documents: Type.Integer({ description: 'documents cut to fit the model context' }),
    timings: RerankTimingsSchema,
  },
  { $id: 'RerankV2Response' },
)
export type RerankV2Response = Static<typeof RerankV2ResponseSchema>
