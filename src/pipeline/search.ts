import { errors } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import { elapsedMs, type Candidate, type StageScores } from '../candidate.js'
import { checkDimensions, type CollectionService } from './collections.js'
import { DEFAULT_PRF, runFeedback, type FeedbackReport, type PrfSettings, type Revision } from './feedback.js'
import { DEFAULT_FUSION, firstPass, type Filter, type FusionSettings, type RetrievalMode, type RetrievalStrategy } from './first-pass.js'
import type { LexicalIndexes } from './lexical-indexes.js'
import type { RerankerPool } from '../rerank/reranker-pool.js'
import type { CollectionRow } from '../store/sqlite-store.js'
import type { Calibrators } from '../calibration/calibrator-store.js'
import type { StageName } from '../candidate.js'
import { rerankCandidates, resolveRerank, type RerankDefaults, type RerankReport, type RerankRequest } from './rerank-stage.js'

export type { Filter } from './first-pass.js'

export interface SearchRequest {
  query: string
  top_k: number
  mode?: RetrievalMode
  dimensions?: number
  oversample?: number
  filter?: Filter
  include?: ('text' | 'metadata' | 'scores')[]
  fusion?: Partial<Omit<FusionSettings, 'weights'>> & { weights?: Partial<FusionSettings['weights']>; candidates?: number }
  prf?: Partial<PrfSettings>
  rerank?: RerankRequest
  /** Adds per-window listwise detail (identifier logits, permutations) to the rerank report. */
  debug?: boolean
  /** Drop hits whose calibrated probability of relevance is below this (needs a fitted calibrator). */
  min_score?: number
}

export interface SearchHit {
  id: string
  score: number
  calibrated: boolean
  text?: string
  metadata?: Record<string, unknown>
  scores?: StageScores
  sources?: Record<string, { rank: number; score: number }>
}

export interface SearchTimings {
  embed_ms: number
  retrieve_ms: number
  rescore_ms: number
  lexical_ms: number
  fusion_ms: number
  prf_ms: number
  rerank_ms: number
  total_ms: number
}

export interface SearchResponse {
  results: SearchHit[]
  mode: RetrievalMode
  timings: SearchTimings
  query_truncated: boolean
  strategy: RetrievalStrategy
  prf?: FeedbackReport
  rerank?: RerankReport
  /** True when a rerank stage was skipped or failed and the best order so far was returned. */
  degraded?: boolean
  /** Which stage's score `score` is, and whether it is a calibrated probability. */
  calibration: { stage: StageName; model: string; calibrated: boolean }
}

export interface SearchLimits {
  maxTopK: number
  defaultOversample: number
  maxOversample: number
  /** Candidates each retriever contributes to fusion and feedback (at least top_k). */
  defaultCandidates: number
  /** Most distinct analysed terms a BM25 query may have (FUNNEL_MAX_QUERY_TERMS). */
  maxQueryTerms: number
}

const DEFAULT_LIMITS: SearchLimits = { maxTopK: 1000, defaultOversample: 4, maxOversample: 100, defaultCandidates: 100, maxQueryTerms: 256 }

/** Turns pipeline candidates into response hits, keeping only the fields the caller asked for. */
export function toHits(candidates: readonly Candidate[], include: readonly string[] = ['text', 'metadata'], calibrated = false): SearchHit[] {
  return candidates.map((c) => ({
    id: c.id,
    score: c.score,
    calibrated,
    ...(include.includes('text') && { text: c.text }),
    ...(include.includes('metadata') && c.metadata !== undefined && { metadata: c.metadata }),
    scores: c.scores,
    ...(include.includes('scores') && c.sources !== undefined && { sources: c.sources }),
  }))
}

/** The mode a collection searches in when the request does not say: its own setting, else the model's recommendation. */
export function defaultMode(settings: Record<string, unknown>, recommended: RetrievalMode | undefined): RetrievalMode {
  const own = settings.default_mode
  if (own === 'dense' || own === 'lexical' || own === 'hybrid') return own
  return recommended ?? 'dense'
}

function validatePrf(prf: PrfSettings, candidates: number): void {
  if (prf.depth > candidates) {
    throw errors.invalidValue('prf.depth', prf.depth, `feedback depth must not exceed the candidate list (${candidates}); raise fusion.candidates or lower prf.depth`)
  }
}

/**
 * One search request, end to end: embed the query, retrieve (dense funnel, BM25 or both fused),
 * optionally reformulate from feedback and retrieve again, shape the response. Every stage reports
 * its own milliseconds.
 */
export class SearchPipeline {
  private readonly limits: SearchLimits

  private readonly collections: CollectionService
  private readonly models: ModelRegistry
  private readonly lexical: LexicalIndexes
  private readonly rerankers: RerankerPool | undefined
  private readonly rerankDefaults: RerankDefaults
  private calibrators: Calibrators | undefined

  constructor(deps: {
    collections: CollectionService
    models: ModelRegistry
    lexical: LexicalIndexes
    rerankers?: RerankerPool
    rerankDefaults?: RerankDefaults
    limits?: Partial<SearchLimits>
  }) {
    this.collections = deps.collections
    this.models = deps.models
    this.lexical = deps.lexical
    this.rerankers = deps.rerankers
    this.rerankDefaults = deps.rerankDefaults ?? { stages: [], budgetMs: 2000, maxCandidates: 200 }
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits }
  }

  /** Makes `score` a calibrated probability wherever a calibrator is fitted for the last stage. */
  useCalibrators(calibrators: Calibrators): void {
    this.calibrators = calibrators
  }

  /**
   * Replaces each candidate's score by P(relevant) from the last stage that ordered the list (a
   * reranker when one ran, else the retriever), keeping raw scores in `scores`.
   */
  private calibrate(candidates: Candidate[], last: { stage: StageName; model: string }): { candidates: Candidate[]; calibrated: boolean } {
    if (this.calibrators === undefined || candidates.length === 0) return { candidates, calibrated: false }
    const calibrated: Candidate[] = []
    for (const [rank, c] of candidates.entries()) {
      const raw = c.scores[last.stage]
      const p = raw === undefined ? undefined : this.calibrators.apply(last.model, last.stage, raw, { rank: rank + 1 })
      if (p === undefined) return { candidates, calibrated: false }
      calibrated.push({ ...c, score: p })
    }
    return { candidates: calibrated, calibrated: true }
  }

  /**
   * Searches one collection, holding it (shared) for the whole request: a drop or re-create waits
   * until the search is done, so the row, the lexical and the dense index it uses stay one generation.
   */
  search(name: string, request: SearchRequest): Promise<SearchResponse> {
    const started = performance.now()
    return this.collections.withCollection(name, (row) => this.searchCollection(row, request, started))
  }

  private async searchCollection(row: CollectionRow, request: SearchRequest, started: number): Promise<SearchResponse> {
    const name = row.name
    if (request.top_k > this.limits.maxTopK) throw errors.invalidValue('top_k', request.top_k, `use 1..${this.limits.maxTopK}`)
    const oversample = request.oversample ?? this.limits.defaultOversample
    if (oversample > this.limits.maxOversample) throw errors.invalidValue('oversample', oversample, `use 1..${this.limits.maxOversample}`)
    const mode = request.mode ?? defaultMode(row.settings, this.models.manifestEntry(row.model)?.recommended_mode)
    const prf: PrfSettings = { ...DEFAULT_PRF, ...(request.prf !== undefined && { enabled: true }), ...request.prf }
    const rerankPlan = request.rerank === undefined ? undefined : resolveRerank(request.rerank, this.rerankDefaults)
    if (rerankPlan !== undefined && this.rerankers === undefined) throw errors.invalidRequest('rerank', 'reranking is not configured on this server')
    // Load (and so validate) the rerank models first: an unknown one is the caller's error even when retrieval finds nothing to rerank.
    if (rerankPlan !== undefined) await Promise.all(rerankPlan.stages.map((stage) => this.rerankers!.get(stage.model)))
    const wanted = Math.max(request.top_k, rerankPlan?.stages[0]!.top_n ?? 0)
    const depth = Math.max(wanted, request.fusion?.candidates ?? (mode === 'dense' && !prf.enabled ? wanted : this.limits.defaultCandidates))
    if (prf.enabled) validatePrf(prf, depth)
    if (prf.enabled && prf.source === 'rerank' && rerankPlan === undefined) {
      throw errors.invalidValue('prf.source', 'rerank', "reranker-judged feedback needs a rerank stage; add rerank or use source 'retrieval'")
    }
    const fusion: FusionSettings = {
      method: request.fusion?.method ?? DEFAULT_FUSION.method,
      k: request.fusion?.k ?? DEFAULT_FUSION.k,
      weights: { ...DEFAULT_FUSION.weights, ...request.fusion?.weights },
    }

    const model = await this.models.embedder(row.model)
    const rescoreDims = request.dimensions ?? row.dims
    checkDimensions('dimensions', rescoreDims, row.dims, model.matryoshkaDims)
    let embedMs = 0
    let queryVector: Float32Array | undefined
    let queryTruncated = false
    if (mode !== 'lexical') {
      const embedStart = performance.now()
      const embedded = await model.embed([request.query], 'query')
      embedMs = elapsedMs(embedStart)
      queryVector = embedded.vectors[0]!
      queryTruncated = embedded.truncated[0]!
    }
    const bm25 = this.lexical.forCollection(row)
    const denseIndex = this.collections.denseIndex(name)
    const retrieve = (revision: Revision = {}) =>
      firstPass({
        store: this.collections.store,
        collection: name,
        mode,
        depth,
        fusion,
        ...(request.filter !== undefined && Object.keys(request.filter).length > 0 && { filter: request.filter }),
        ...((revision.vector ?? queryVector) !== undefined && { dense: { index: denseIndex, query: (revision.vector ?? queryVector)!, oversample, rescoreDims } }),
        lexical: revision.terms !== undefined ? { index: bm25, terms: revision.terms } : { index: bm25, query: request.query, maxTerms: this.limits.maxQueryTerms },
      })
    const first = retrieve()
    let candidates = first.candidates
    let prfMs = 0
    let rerankMs = 0
    let report: FeedbackReport | undefined
    let rerankReport: RerankReport | undefined
    const feedbackFrom = async (list: Candidate[]) => {
      const feedback = await runFeedback({
        store: this.collections.store,
        collection: name,
        mode,
        query: request.query,
        ...(queryVector !== undefined && { queryVector }),
        bm25,
        feedback: list,
        settings: prf,
        retrieve: (revision) => retrieve(revision).candidates,
      })
      prfMs += feedback.prf_ms
      report = feedback.report
      return feedback.candidates
    }
    const rerank = async (list: Candidate[], budgetMs: number) => {
      const ranked = await rerankCandidates(this.rerankers!, request.query, list, { stages: rerankPlan!.stages, budgetMs }, request.debug === true)
      rerankMs += ranked.report.ms
      rerankReport = ranked.report
      return ranked.candidates
    }
    if (prf.enabled && prf.source === 'retrieval' && candidates.length > 0) candidates = await feedbackFrom(candidates)
    if (rerankPlan !== undefined && candidates.length > 0) {
      candidates = await rerank(candidates, rerankPlan.budgetMs)
      // Reranker-judged feedback (FIRST): reformulate from the reranked top, retrieve again, rerank the new list.
      if (prf.enabled && prf.source === 'rerank') {
        const revised = await feedbackFrom(candidates)
        const remaining = rerankPlan.budgetMs - rerankMs
        if (report?.used !== 'original' && remaining > 0) candidates = await rerank(revised, remaining)
      }
    }
    const lastRerank = rerankReport?.stages.filter((st) => st.status === 'ok').at(-1)
    const last: { stage: StageName; model: string } =
      lastRerank !== undefined
        ? { stage: lastRerank.scoreKey, model: lastRerank.model }
        : mode === 'dense'
          ? { stage: 'dense', model: row.model }
          : mode === 'lexical'
            ? { stage: 'lexical', model: 'bm25' }
            : { stage: 'fused', model: fusion.method }
    const final = this.calibrate(candidates.slice(0, request.top_k), last)
    if (request.min_score !== undefined && !final.calibrated) {
      throw errors.invalidValue('min_score', request.min_score, `no calibrator is fitted for stage '${last.stage}' of model '${last.model}'; fit one with POST /v1/calibration/fit`)
    }
    const kept = request.min_score === undefined ? final.candidates : final.candidates.filter((c) => c.score >= request.min_score!)
    return {
      results: toHits(kept, request.include, final.calibrated),
      mode,
      calibration: { ...last, calibrated: final.calibrated },
      timings: { embed_ms: embedMs, ...first.timings, prf_ms: prfMs, rerank_ms: rerankMs, total_ms: elapsedMs(started) },
      query_truncated: queryTruncated,
      strategy: first.strategy,
      ...(report !== undefined && { prf: report }),
      ...(rerankReport !== undefined && { rerank: rerankReport, degraded: rerankReport.degraded }),
    }
  }
}
