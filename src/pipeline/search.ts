import type { Calibrators } from '../calibration/calibrator-store.js'
import { elapsedMs, type Candidate, type Hit, type StageName } from '../candidate.js'
import { errors } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import type { RerankerPool } from '../rerank/reranker-pool.js'
import type { CollectionRecord } from '../store/backend.js'
import { checkDimensions, type CollectionService } from './collections.js'
import { runFeedback, type FeedbackReport, type Revision } from './feedback.js'
import { firstPass, type FirstPassResult } from './first-pass.js'
import { hydrate } from './hydrate.js'
import { rerankCandidates, type RerankDefaults } from './rerank-stage.js'
import { DEFAULT_LIMITS, planSearch, type SearchLimits, type SearchPlan } from './search-plan.js'
import type { RerankReport, SearchHit, SearchRequest, SearchResponse } from '../schemas/search.js'

export type { SearchHit, SearchRequest, SearchResponse, SearchTimings } from '../schemas/search.js'
export { defaultMode, type SearchLimits } from './search-plan.js'

/** Turns pipeline candidates into response hits, keeping only the fields the caller asked for. */
export function toHits(candidates: readonly (Hit & Partial<Candidate>)[], include: readonly string[] = ['text', 'metadata'], calibrated = false): SearchHit[] {
  return candidates.map((c) => ({
    id: c.id,
    score: c.score,
    calibrated,
    ...(include.includes('text') && c.text !== undefined && { text: c.text }),
    ...(include.includes('metadata') && c.metadata !== undefined && { metadata: c.metadata }),
    scores: include.includes('scores') && c.rerankScores !== undefined ? { ...c.scores, rerank: c.rerankScores } : c.scores,
    ...(include.includes('scores') && c.sources !== undefined && { sources: c.sources }),
  }))
}

/** What one search has found so far, passed from stage to stage. */
interface SearchState {
  hits: Hit[]
  prf_ms: number
  rerank_ms: number
  prf?: FeedbackReport
  rerank?: RerankReport
}

/** A step after the first pass (feedback, a rerank cascade): takes the state, returns the next one. */
type SearchStep = (state: SearchState) => Promise<SearchState>

/** The stage whose score orders the final list: the last rerank stage that ran, else the retriever. */
function lastStage(plan: SearchPlan, record: CollectionRecord, rerank: RerankReport | undefined): { stage: StageName; model: string } {
  const reranked = rerank?.stages.filter((st) => st.status === 'ok').at(-1)
  if (reranked !== undefined) return { stage: reranked.scoreKey, model: reranked.model }
  if (plan.mode === 'dense') return { stage: 'dense', model: record.model }
  if (plan.mode === 'lexical') return { stage: 'lexical', model: 'bm25' }
  return { stage: 'fused', model: plan.fusion.method }
}

/**
 * Replaces each hit's score by P(relevant) from the stage that ordered the list, keeping raw scores
 * in `scores`; leaves the list as it is unless every hit can be calibrated.
 */
function calibrate<T extends Hit>(hits: readonly T[], last: { stage: StageName; model: string }, calibrators: Calibrators | undefined): { hits: T[]; calibrated: boolean } {
  if (calibrators === undefined || hits.length === 0) return { hits: [...hits], calibrated: false }
  const calibrated: T[] = []
  for (const [rank, hit] of hits.entries()) {
    const raw = hit.scores[last.stage]
    const p = raw === undefined ? undefined : calibrators.apply(last.model, last.stage, raw, { rank: rank + 1 })
    if (p === undefined) return { hits: [...hits], calibrated: false }
    calibrated.push({ ...hit, score: p })
  }
  return { hits: calibrated, calibrated: true }
}

/**
 * One search request, end to end: plan → embed → first pass → fold over the steps the plan asks for
 * (feedback, rerank stages) → calibrate → shape. Each step reports its own milliseconds. Knows the
 * storage only through the collections' `Backend`.
 */
export class SearchPipeline {
  private readonly limits: SearchLimits
  private readonly collections: CollectionService
  private readonly models: ModelRegistry
  private readonly rerankers: RerankerPool | undefined
  private readonly rerankDefaults: RerankDefaults
  private readonly calibrators: Calibrators | undefined

  constructor(deps: {
    collections: CollectionService
    models: ModelRegistry
    rerankers?: RerankerPool
    rerankDefaults?: RerankDefaults
    /** Makes `score` a calibrated probability wherever a calibrator is fitted for the last stage. */
    calibrators?: Calibrators
    limits?: Partial<SearchLimits>
  }) {
    this.collections = deps.collections
    this.models = deps.models
    this.rerankers = deps.rerankers
    this.rerankDefaults = deps.rerankDefaults ?? { stages: [], budgetMs: 2000, maxCandidates: 200 }
    this.calibrators = deps.calibrators
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits }
  }

  /**
   * Searches one collection, holding it (shared) for the whole request: a drop or re-create waits
   * until the search is done, so the record and the indexes it uses stay one generation.
   */
  search(name: string, request: SearchRequest, options: { signal?: AbortSignal } = {}): Promise<SearchResponse> {
    const started = performance.now()
    return this.collections.withCollection(name, (record) => this.searchCollection(record, request, started, options.signal))
  }

  /**
   * `signal` (the request's: deadline passed or client gone) is checked between steps and handed to
   * the rerank cascade, the one step that can run for seconds; it rejects with the signal's reason.
   */
  private async searchCollection(record: CollectionRecord, request: SearchRequest, started: number, signal?: AbortSignal): Promise<SearchResponse> {
    const plan = planSearch(request, record, {
      limits: this.limits,
      rerankDefaults: this.rerankDefaults,
      rerankAvailable: this.rerankers !== undefined,
      recommendedMode: this.models.manifestEntry(record.model)?.recommended_mode,
    })
    // Load (and so validate) the rerank models first: an unknown one is the caller's error even when retrieval finds nothing to rerank.
    if (plan.rerank !== undefined) await Promise.all(plan.rerank.stages.map((stage) => this.rerankers!.get(stage.model)))
    signal?.throwIfAborted()
    const embedded = await this.embedQuery(record, plan)
    const retrieve = (revision: Revision = {}) => this.retrieve(record, plan, revision.vector ?? embedded.vector, revision.terms)
    const first = await retrieve()
    const state = await this.steps(record, plan, embedded.vector, retrieve, signal).reduce<Promise<SearchState>>(
      async (previous, step) => {
        const before = await previous
        signal?.throwIfAborted()
        return step(before)
      },
      Promise.resolve({ hits: first.hits, prf_ms: 0, rerank_ms: 0 }),
    )
    return this.shape(record, plan, state, { first, embed_ms: embedded.ms, truncated: embedded.truncated, started })
  }

  private async embedQuery(record: CollectionRecord, plan: SearchPlan): Promise<{ vector?: Float32Array; truncated: boolean; ms: number }> {
    const model = await this.models.embedder(record.model)
    checkDimensions('dimensions', plan.rescoreDims, record.dims, model.matryoshkaDims)
    if (plan.mode === 'lexical') return { truncated: false, ms: 0 }
    const embedStart = performance.now()
    const embedded = await model.embed([plan.query], 'query')
    return { vector: embedded.vectors[0]!, truncated: embedded.truncated[0]!, ms: elapsedMs(embedStart) }
  }

  private retrieve(record: CollectionRecord, plan: SearchPlan, vector: Float32Array | undefined, terms: Revision['terms']): Promise<FirstPassResult> {
    return firstPass({
      backend: this.collections.backend,
      collection: record.name,
      mode: plan.mode,
      candidates: plan.candidates,
      fusion: plan.fusion,
      ...(plan.filter !== undefined && { filter: plan.filter }),
      ...(vector !== undefined && { dense: { query: vector, oversample: plan.oversample, rescoreDims: plan.rescoreDims, ...(plan.efSearch !== undefined && { efSearch: plan.efSearch }) } }),
      lexical: terms !== undefined ? { terms } : { query: plan.query, maxTerms: this.limits.maxQueryTerms },
    })
  }

  /**
   * The steps after the first pass, in order: feedback from the first-pass ranking; the rerank
   * cascade; and for reranker-judged feedback (FIRST), feedback from the reranked top followed by a
   * second cascade over the revised list within what is left of the budget.
   */
  private steps(record: CollectionRecord, plan: SearchPlan, queryVector: Float32Array | undefined, retrieve: (revision?: Revision) => Promise<FirstPassResult>, signal?: AbortSignal): SearchStep[] {
    const feedback: SearchStep = async (state) => {
      if (state.hits.length === 0) return state
      const result = await runFeedback({
        backend: this.collections.backend,
        collection: record.name,
        mode: plan.mode,
        query: plan.query,
        ...(queryVector !== undefined && { queryVector }),
        feedback: state.hits,
        settings: plan.prf,
        retrieve: async (revision) => (await retrieve(revision)).hits,
      })
      return { ...state, hits: result.hits, prf_ms: state.prf_ms + result.prf_ms, prf: result.report }
    }
    const rerank: SearchStep = async (state) => {
      const cascade = plan.rerank!
      const budgetMs = cascade.budgetMs - state.rerank_ms
      if (state.hits.length === 0 || budgetMs <= 0) return state
      const candidates = await hydrate(this.collections.backend, record.name, state.hits.slice(0, cascade.stages[0]!.top_n))
      const ranked = await rerankCandidates(this.rerankers!, plan.query, candidates, { stages: cascade.stages, budgetMs }, plan.debug, signal)
      return { ...state, hits: ranked.candidates, rerank_ms: state.rerank_ms + ranked.report.ms, rerank: ranked.report }
    }
    // Reranker-judged feedback keeps the reranked list unless it chose a revision and budget is left to rerank it.
    const feedbackThenRerank: SearchStep = async (state) => {
      const revised = await feedback(state)
      if (revised.prf?.used === 'original' || plan.rerank!.budgetMs - revised.rerank_ms <= 0) return { ...revised, hits: state.hits }
      return rerank(revised)
    }
    const steps: SearchStep[] = []
    if (plan.prf.enabled && plan.prf.source === 'retrieval') steps.push(feedback)
    if (plan.rerank !== undefined) steps.push(rerank)
    if (plan.prf.enabled && plan.prf.source === 'rerank') steps.push(feedbackThenRerank)
    return steps
  }

  /** Cuts to top_k, calibrates, applies min_score, reads the texts asked for, and builds the response. */
  private async shape(
    record: CollectionRecord,
    plan: SearchPlan,
    state: SearchState,
    context: { first: FirstPassResult; embed_ms: number; truncated: boolean; started: number },
  ): Promise<SearchResponse> {
    const last = lastStage(plan, record, state.rerank)
    const final = calibrate(state.hits.slice(0, plan.top_k), last, this.calibrators)
    if (plan.min_score !== undefined && !final.calibrated) {
      throw errors.invalidValue('min_score', plan.min_score, `no calibrator is fitted for stage '${last.stage}' of model '${last.model}'; fit one with POST /v1/calibration/fit`)
    }
    const kept = plan.min_score === undefined ? final.hits : final.hits.filter((h) => h.score >= plan.min_score!)
    const needsBodies = plan.include.includes('text') || plan.include.includes('metadata')
    const shown = needsBodies ? await hydrate(this.collections.backend, record.name, kept) : kept
    return {
      results: toHits(shown, plan.include, final.calibrated),
      mode: plan.mode,
      calibration: { ...last, calibrated: final.calibrated },
      timings: { embed_ms: context.embed_ms, ...context.first.timings, prf_ms: state.prf_ms, rerank_ms: state.rerank_ms, total_ms: elapsedMs(context.started) },
      query_truncated: context.truncated,
      strategy: context.first.strategy,
      ...(state.prf !== undefined && { prf: state.prf }),
      ...(state.rerank !== undefined && { rerank: state.rerank, degraded: state.rerank.degraded }),
    }
  }
}
