import { Type, type Static } from 'typebox'
import { STAGE_NAMES } from '../candidate.js'
import { LiteralUnion, Metadata, StringEnum, ref } from './common.js'

/**
 * A filter value: a string, number, boolean or null. Documented free-form because a union of scalars
 * (anyOf) is what client generators cannot build (openapi-generator's Python client rejected
 * {'lang': 'en'}); the store checks the type and answers 400 naming the allowed ones.
 */
const FilterValue = Type.Unsafe<string | number | boolean | null>({ description: 'a string, number, boolean or null, matched exactly' })

export const FilterSchema = Type.Record(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^"\\\\\\u0000]+$' }), FilterValue, {
  $id: 'Filter',
  maxProperties: 32,
  description: 'metadata fields (top level; no double quote, backslash or NUL in names) that must equal these values exactly; all must match; at most 32',
})
/** Metadata fields that must equal these values exactly; what every retriever and the store filter by. */
export type Filter = Static<typeof FilterSchema>

export const RETRIEVAL_MODES = ['dense', 'lexical', 'hybrid'] as const
export const FUSION_METHODS = ['rrf', 'weighted'] as const
export type FusionMethod = (typeof FUSION_METHODS)[number]
export const RetrievalModeSchema = StringEnum(RETRIEVAL_MODES, {
  description: 'retriever: dense (HNSW funnel), lexical (BM25) or hybrid (both, fused); default: the collection default_mode, else the model recommendation',
})
export type RetrievalMode = Static<typeof RetrievalModeSchema>

const Weight = Type.Number({ minimum: 0, maximum: 100 })

export const FusionRequestSchema = Type.Object(
  {
    method: Type.Optional(StringEnum(FUSION_METHODS, { description: 'reciprocal rank fusion (default) or weighted sum of min-max normalised scores' })),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'RRF rank constant (default 60)' })),
    weights: Type.Optional(Type.Object({ dense: Type.Optional(Weight), lexical: Type.Optional(Weight) }, { additionalProperties: false })),
    candidates: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'candidates each retriever contributes (default 100, at least top_k)' })),
  },
  { additionalProperties: false },
)
export type FusionRequest = Static<typeof FusionRequestSchema>

export const PrfRequestSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: true })),
    depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'feedback documents (default 10); must not exceed the candidate list' })),
    alpha: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: 'Rocchio weight of the original query (default 1)' })),
    beta: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: 'Rocchio weight of the feedback centroid (default 0.75)' })),
    gamma: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: 'Rocchio weight of the non-relevant centroid (default 0.15)' })),
    terms: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'RM3 expansion terms (default 10)' })),
    original_query_weight: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'RM3 interpolation weight of the original query (default 0.5)' })),
    source: Type.Optional(StringEnum(['retrieval', 'rerank'], { description: 'feedback from the first-pass ranking (default) or from the reranked one' })),
    guard: Type.Optional(Type.Boolean({ description: 'drift guard: compare revisions from several depths, keep the original query unless one is trustworthy (default true)' })),
  },
  { additionalProperties: false },
)
export type PrfRequest = Static<typeof PrfRequestSchema>

/** One stage of a rerank cascade: the model and how many candidates it sees and passes on. */
export const RerankStageSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'reranker model id: a cross-encoder or causal-LM folder under FUNNEL_MODELS_DIR, or "remote"' }),
    top_n: Type.Integer({ minimum: 1, description: 'candidates this stage sees and passes on (at most FUNNEL_RERANK_MAX_CANDIDATES)' }),
    fusion: Type.Optional(
      StringEnum(['rrf'], {
        description:
          "'rrf': order this stage's candidates by reciprocal rank fusion (k = 60) of its ranking with the rankings of the stages before it, back to the last stage without fusion (or the retrieval order); hit scores are then the fused sums. Absent: this stage's own order replaces the previous one",
      }),
    ),
  },
  { additionalProperties: false },
)
export type RerankStage = Static<typeof RerankStageSchema>

/** A search request's `rerank`: the cascade and its latency budget, each defaulting to the server's. */
export const RerankOptionsSchema = Type.Object(
  {
    stages: Type.Optional(Type.Array(RerankStageSchema, { minItems: 1, maxItems: 4, description: 'cascade in order (default FUNNEL_RERANK_STAGES)' })),
    budget_ms: Type.Optional(Type.Integer({ minimum: 1, description: 'latency budget for all stages (at most FUNNEL_RERANK_BUDGET_MS)' })),
  },
  { additionalProperties: false },
)
export type RerankOptions = Static<typeof RerankOptionsSchema>

/**
 * The search request body. `maxQueryChars` is FUNNEL_MAX_QUERY_CHARS: the schema states this server's
 * limit, so the request type does not depend on it.
 */
export const searchRequestSchema = (maxQueryChars: number) => Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: maxQueryChars, description: `the query text; at most FUNNEL_MAX_QUERY_CHARS characters, counted as UTF-16 code units (${maxQueryChars} on this server) and FUNNEL_MAX_QUERY_TERMS distinct terms after analysis` }),
    top_k: Type.Integer({ minimum: 1, default: 10, description: 'number of results (1..FUNNEL_MAX_TOP_K, default max 1000)' }),
    mode: Type.Optional(RetrievalModeSchema),
    dimensions: Type.Optional(Type.Integer({ minimum: 1, description: 'dims for exact rescoring (default: full model dims)' })),
    oversample: Type.Optional(Type.Integer({ minimum: 1, description: 'HNSW fetches top_k × oversample candidates at the index dims (default 4, max 100)' })),
    ef_search: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 4096,
        description:
          "HNSW walk width for this search (default: the collection's ef_search, widened to top_k × oversample). Below top_k × oversample, the embedded backend's candidate pool takes the shortlist from every node the walk scored instead of widening the walk (strategy hnsw_pool); without the pool (no AVX2 hnswlib addon) or with a filter the walk is widened as by default. Not supported by the Weaviate backend (its ef is per collection)",
      }),
    ),
    filter: Type.Optional(ref(FilterSchema)),
    include: Type.Optional(
      Type.Array(StringEnum(['text', 'metadata', 'scores']), {
        uniqueItems: true,
        description: 'fields to return with each hit (default text and metadata; scores adds raw per-stage scores and per-retriever ranks)',
      }),
    ),
    fusion: Type.Optional(FusionRequestSchema),
    prf: Type.Optional(PrfRequestSchema),
    rerank: Type.Optional(RerankOptionsSchema),
    debug: Type.Optional(Type.Boolean({ description: 'include per-window listwise detail in rerank.stages[].windows' })),
    min_score: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'drop hits whose calibrated probability of relevance is below this; 400 when no calibrator is fitted for the last stage' })),
  },
  { additionalProperties: false },
)
export type SearchRequest = Static<ReturnType<typeof searchRequestSchema>>

const WindowDebugSchema = Type.Object({
  start: Type.Integer(),
  end: Type.Integer(),
  ids: Type.Array(Type.String()),
  logits: Type.Array(Type.Union([Type.Number(), Type.Null()]), { description: 'first-token identifier logit per window slot (null: not reported by a remote server)' }),
  permutation: Type.Array(Type.Integer(), { description: 'window slot now at each position' }),
  truncatedPassages: Type.Integer(),
  ms: Type.Number(),
})

/** What the rerank cascade reports in a search response: each stage's status, counts and time. */
export const RerankReportSchema = Type.Object({
  stages: Type.Array(
    Type.Object({
      model: Type.String(),
      name: Type.String(),
      scoreKey: Type.Union([Type.Literal('embedding'), Type.Literal('cross_encoder'), Type.Literal('listwise')]),
      fusion: Type.Optional(Type.Literal('rrf')),
      status: Type.Union([Type.Literal('ok'), Type.Literal('skipped'), Type.Literal('failed')]),
      inputCount: Type.Integer(),
      outputCount: Type.Integer(),
      ms: Type.Number(),
      truncatedPassages: Type.Integer(),
      reason: Type.Optional(Type.String()),
      windows: Type.Optional(Type.Array(WindowDebugSchema)),
    }),
  ),
  degraded: Type.Boolean(),
  reason: Type.Optional(Type.String()),
  ms: Type.Number(),
})
export type RerankReport = Static<typeof RerankReportSchema>

const SourceHit = Type.Object({ rank: Type.Integer(), score: Type.Number() })

export const SearchHitSchema = Type.Object({
  id: Type.String(),
  score: Type.Number({
    description: 'P(relevant) from the calibrator of the last stage that ran when one is fitted (calibrated: true); otherwise that stage\'s raw score (dense cosine, BM25, fused, cross-encoder logit, listwise 1/(rank+1))',
  }),
  calibrated: Type.Boolean({ description: 'score is a calibrated probability' }),
  text: Type.Optional(Type.String()),
  metadata: Type.Optional(Metadata),
  scores: Type.Optional(
    Type.Object({
      dense: Type.Optional(Type.Number()),
      lexical: Type.Optional(Type.Number()),
      fused: Type.Optional(Type.Number()),
      embedding: Type.Optional(Type.Number()),
      cross_encoder: Type.Optional(Type.Number()),
      listwise: Type.Optional(Type.Number({ description: "window log-odds: log(p / (1 - p)) for p = the window softmax's probability that this passage comes first, in the last window that scored it (clipped to ±40)" })),
      rerank: Type.Optional(
        Type.Array(
          Type.Object({
            model: Type.String({ description: 'the stage\'s reranker model' }),
            stage: StringEnum(['embedding', 'cross_encoder', 'listwise'], { description: 'the kind of score, as the keys above' }),
            score: Type.Number({ description: 'the raw score this stage gave the hit' }),
          }),
          {
            description:
              "with include 'scores': every rerank stage this hit passed, in cascade order, with its raw score (the keys above keep one value per kind, so with two stages of one kind, such as two embedding stages, only this list has both)",
          },
        ),
      ),
    }),
  ),
  sources: Type.Optional(Type.Object({ dense: Type.Optional(SourceHit), lexical: Type.Optional(SourceHit) })),
})
export type SearchHit = Static<typeof SearchHitSchema>

export const SearchTimingsSchema = Type.Object({
  embed_ms: Type.Number(),
  retrieve_ms: Type.Number({ description: 'HNSW (or exact filtered scan)' }),
  rescore_ms: Type.Number({ description: 'full-dim rescoring of the shortlist' }),
  lexical_ms: Type.Number(),
  fusion_ms: Type.Number(),
  prf_ms: Type.Number({ description: 'feedback reformulation and the second retrieval(s)' }),
  rerank_ms: Type.Number({ description: 'all rerank stages' }),
  total_ms: Type.Number(),
})
export type SearchTimings = Static<typeof SearchTimingsSchema>

/** What pseudo-relevance feedback reports: the revision used and, with the guard, the evidence for it. */
export const FeedbackReportSchema = Type.Object({
  used: Type.Union([Type.Integer(), Type.Literal('original')], { description: 'feedback depth of the revision used, or original when the guard kept the query' }),
  reason: Type.String(),
  source: Type.Union([Type.Literal('retrieval'), Type.Literal('rerank')]),
  revisions: Type.Optional(
    Type.Array(
      Type.Object({
        depth: Type.Integer(),
        preservation: Type.Number(),
        agreement: Type.Number(),
        novelty: Type.Integer(),
        trusted: Type.Boolean(),
        consistency: Type.Number(),
      }),
    ),
  ),
  expansion_terms: Type.Optional(Type.Array(Type.String())),
})
export type FeedbackReport = Static<typeof FeedbackReportSchema>

export const RetrievalStrategySchema = Type.Union([Type.Literal('hnsw'), Type.Literal('hnsw_pool'), Type.Literal('exact'), Type.Literal('bm25')], {
  description:
    'how candidates were found: hnsw; hnsw_pool when a request ef_search below top_k × oversample took the shortlist from every node the walk scored; exact when a selective filter made brute force cheaper (dense and hybrid); bm25 in lexical mode',
})
export type RetrievalStrategy = Static<typeof RetrievalStrategySchema>

export const SearchResponseSchema = Type.Object({
  results: Type.Array(SearchHitSchema),
  mode: RetrievalModeSchema,
  timings: SearchTimingsSchema,
  query_truncated: Type.Boolean({ description: 'the query was cut to the model maximum length' }),
  strategy: RetrievalStrategySchema,
  prf: Type.Optional(FeedbackReportSchema),
  rerank: Type.Optional(RerankReportSchema),
  degraded: Type.Optional(Type.Boolean({ description: 'a rerank stage was skipped or failed; the best order so far is returned' })),
  calibration: Type.Object({
    stage: LiteralUnion(STAGE_NAMES),
    model: Type.String({ description: 'the calibrator key: embedding model id, bm25, rrf/weighted, or the reranker model id' }),
    calibrated: Type.Boolean(),
  }),
}, { $id: 'SearchResponse' })
export type SearchResponse = Static<typeof SearchResponseSchema>
