import { stageModel, type CalibrationMetrics, type CalibratorStore } from '../calibration/calibrator-store.js'
import {
  binarize,
  fitCalibrator,
  MIN_CALIBRATION_EXAMPLES,
  MIN_EXAMPLES_PER_LABEL,
  type CalibrationExample,
  type CalibrationFit,
  type RawScale,
} from '../calibration/fit.js'
import type { CalibrationSummary } from '../calibration/metrics.js'
import { sigmoid } from '../calibration/platt.js'
import { STAGE_NAMES, type StageName } from '../candidate.js'
import { errors } from '../errors.js'
import type { ModelRegistry } from '../models/model-registry.js'
import { cosineAtDims } from '../retrieval/vector-math.js'
import type { Backend, CollectionRecord } from '../store/backend.js'
import { DEFAULT_CALIBRATION_TOP_K, type CalibrationSummaryBody, type FitCalibrationRequest, type Judgement, type LabelledExample, type StageFit } from '../schemas/calibration.js'
import type { FusionMethod, RetrievalMode } from '../schemas/search.js'
import type { SearchPipeline, SearchRequest } from './search.js'

export type { FusionMethod } from '../schemas/search.js'
export type { Judgement, LabelledExample } from '../schemas/calibration.js'

/** POST /v1/calibration/fit's body. */
export type FitRequest = FitCalibrationRequest

export interface FitOptions {
  /** Reranker model ids, the keys of the cross_encoder / listwise calibrators. */
  rerankers?: Partial<Record<'embedding' | 'cross_encoder' | 'listwise', string>>
  /** Extra search request fields (rerank stages, say) for every labelled search. */
  search?: Partial<SearchRequest>
  onProgress?: (done: number, total: number) => void
  /** Stops the labelling searches (between queries, and inside a rerank cascade) with the signal's reason. */
  signal?: AbortSignal
}

/** One fitted stage as the API reports it, plus the full fit (reliability bins included) for the CLI's diagrams. */
export type StageFitReport = StageFit & { fit: CalibrationFit }

export interface FitOutcome {
  calibrators: StageFitReport[]
  source: CalibrationMetrics['source']
}

/** A query and its judged documents (unjudged ones count as not relevant). */
export interface JudgedQuery {
  query: string
  labels: Map<string, 0 | 1>
}

export interface SearchLabelling {
  collection: string
  mode?: RetrievalMode
  top_k: number
  fusion: FusionMethod
}

/** The calibrator key of each rerank score key: the model of the last stage that wrote it. */
export type RerankerModels = Partial<Record<'embedding' | 'cross_encoder' | 'listwise', string>>

export interface LabelledScores {
  /** The rerank stages that scored the hits (by score key, the model), and the last one's score key. */
  rerankers: RerankerModels
  lastRerankStage?: StageName
  /** Per stage, every hit that carried that stage's score, labelled by the judgements. */
  stages: Map<StageName, CalibrationExample[]>
  mode: RetrievalMode
  judgedRelevant: number
  retrievedRelevant: number
}

/** Hits per judged query: the depth `score` is usually read at; calibration depends on it (see README). */
export { DEFAULT_CALIBRATION_TOP_K } from '../schemas/calibration.js'

export const toSummaryBody = (s: CalibrationSummary): CalibrationSummaryBody => ({ ece: s.ece, brier: s.brier, log_loss: s.logLoss })

/** The raw score read as a probability, as the fit's `baseline` did: the "before" of calibration. */
export function baselineProbability(baseline: CalibrationFit['baseline'], raw: number, rank?: number): number {
  switch (baseline) {
    case 'rank':
      if (rank === undefined) throw errors.invalidRequest('rank', "the 'rank' baseline reads 1 / rank: give the hit's 1-based rank")
      return 1 / rank
    case 'cosine':
      return Math.min(1, Math.max(0, (raw + 1) / 2))
    case 'sigmoid':
      return sigmoid(raw)
    case 'identity':
      return Math.min(1, Math.max(0, raw))
    case 'window-softmax':
      throw errors.invalidRequest('score', 'window scores need their logits for the baseline')
  }
}

/** How a stage's raw score reads as a probability before calibration (what "before" measures). */
function rawScaleOf(stage: StageName, examples: readonly CalibrationExample[]): RawScale | undefined {
  switch (stage) {
    case 'dense':
    case 'embedding':
      return 'cosine'
    case 'lexical':
    case 'cross_encoder':
      return 'logit'
    case 'fused':
      return examples.every((e) => typeof e.score === 'number' && e.score >= 0 && e.score <= 1) ? 'probability' : 'logit'
    case 'listwise':
      // Uncalibrated, a listwise stage's relevance is 1 / rank (src/rerank/relevance.ts).
      return examples.every((e) => e.rank !== undefined) ? 'rank' : undefined
  }
}

function checkStageNames(stages: readonly string[] | undefined): StageName[] | undefined {
  if (stages === undefined) return undefined
  for (const stage of stages) if (!(STAGE_NAMES as readonly string[]).includes(stage)) throw errors.unknownStage(stage, STAGE_NAMES)
  return stages as StageName[]
}

function binaryLabels(field: string, labels: readonly number[], threshold: number | undefined): (0 | 1)[] {
  if (threshold !== undefined) return binarize(labels, threshold)
  return labels.map((label, i) => {
    if (label !== 0 && label !== 1) {
      throw errors.invalidValue(`${field}[${i}].label`, label, 'labels must be 0 or 1; pass label_threshold to count graded labels at or above it as relevant')
    }
    return label
  })
}

/** A listwise stage's window log-odds may also be read with its rank (the two-feature 'listwise' method). */
const LISTWISE_METHODS = ['platt', 'listwise', 'isotonic'] as const

const countPositives = (examples: readonly CalibrationExample[]): number => examples.reduce((s, e) => s + e.label, 0)

/**
 * Fits and stores a calibrator per pipeline stage from labelled data, in one of two ways:
 *
 * - examples carrying document text: each (query, document) pair is scored directly (dense: cosine of
 *   the model's query and document embeddings; lexical: BM25 of the document with that id in the
 *   collection);
 * - judged queries (qrels, or examples with ids only) against a collection: each query is searched and
 *   its top_k hits are labelled, unjudged hits as not relevant (the BEIR convention). This sees the
 *   score distribution search produces, negatives included, which is what the calibrator will face.
 *
 * Every stage is fitted (k-fold model selection, see `fitCalibrator`) before anything is stored, and
 * all are stored in one transaction: a fit that fails anywhere leaves the active calibrators untouched.
 *
 * @example
 *   const { calibrators } = await service.fit({ collection: 'docs', qrels, mode: 'dense' })
 *   calibrators[0].held_out.after.ece   // out-of-fold ECE of the calibrated probabilities
 */
export class CalibrationService {
  constructor(
    private readonly components: {
      backend: Backend
      models: ModelRegistry
      search: SearchPipeline
      calibrators: CalibratorStore
      maxTopK: number
    },
  ) {}

  async fit(request: FitRequest, options: FitOptions = {}): Promise<FitOutcome> {
    const requested = checkStageNames(request.stages)
    const row = request.collection === undefined ? undefined : await this.components.backend.getCollection(request.collection)
    if (request.collection !== undefined && row === undefined) throw errors.collectionNotFound(request.collection)
    const hasExamples = request.examples !== undefined && request.examples.length > 0
    const hasQrels = request.qrels !== undefined && request.qrels.length > 0
    if (hasExamples === hasQrels) throw errors.invalidRequest('examples', 'give labelled examples or qrels (one of the two)')
    const field = hasExamples ? 'examples' : 'qrels'
    const fusion = request.fusion ?? 'rrf'
    const embeddingModel = await this.embeddingModel(row, request.model)

    const pairs = hasExamples && request.examples!.some((e) => e.document !== undefined)
    if (pairs && request.rerank !== undefined) {
      throw errors.invalidRequest('rerank', 'rerank runs on labelling searches (qrels, or examples with ids); examples with document text are scored as pairs')
    }
    const collected = pairs
      ? await this.fromPairs(request.examples!, row, embeddingModel, requested, request.label_threshold)
      : await this.fromSearch(field, request, row, fusion, options)

    const stages = requested ?? collected.defaultStages
    for (const stage of stages) {
      if (!collected.stages.has(stage)) {
        const available = [...collected.stages.keys()].join(', ') || 'none'
        throw errors.invalidRequest('stages', `stage '${stage}' produced no scores to calibrate (${collected.why}); stages available: ${available}`)
      }
    }
    const fitted = stages.map((stage) => {
      const examples = collected.stages.get(stage)!
      const rerankers = options.rerankers ?? collected.rerankers
      const model = stageModel(stage, { embeddingModel, fusion, ...(rerankers !== undefined && { rerankers }) })
      if (model === undefined) throw errors.invalidRequest('stages', `stage '${stage}' needs the id of the reranker model that produced its scores`)
      const positives = countPositives(examples)
      const negatives = examples.length - positives
      if (examples.length < MIN_CALIBRATION_EXAMPLES || Math.min(positives, negatives) < MIN_EXAMPLES_PER_LABEL) {
        throw errors.insufficientLabels(field, stage, { n: examples.length, positives }, { examples: MIN_CALIBRATION_EXAMPLES, perLabel: MIN_EXAMPLES_PER_LABEL }, collected.hint)
      }
      const rawScale = rawScaleOf(stage, examples)
      const fit = fitCalibrator(examples, {
        ...(request.folds !== undefined && { folds: request.folds }),
        ...(rawScale !== undefined && { rawScale }),
        ...(stage === 'listwise' && { methods: LISTWISE_METHODS }),
      })
      return { stage, model, fit }
    })

    const saved = await this.components.calibrators.save(
      fitted.map(({ stage, model, fit }) => ({ stage, model, calibrator: fit.calibrator, metrics: metricsOf(fit, collected.source) })),
    )
    return {
      source: collected.source,
      calibrators: fitted.map(({ stage, model, fit }, i) => ({
        stage,
        model,
        method: fit.method,
        version: saved[i]!.version,
        n: fit.n,
        positives: fit.positives,
        held_out: { before: toSummaryBody(fit.heldOut.before), after: toSummaryBody(fit.heldOut.after) },
        baseline: fit.baseline,
        reason: fit.reason,
        created_at: saved[i]!.created_at,
        fit,
      })),
    }
  }

  /**
   * Searches every judged query and labels its hits; per stage, the raw scores of the hits that carry
   * one. Used by `fit` and, on held-out splits, by the calibrate command's evaluation.
   */
  async labelSearchHits(queries: readonly JudgedQuery[], settings: SearchLabelling, options: Omit<FitOptions, 'rerankers'> = {}): Promise<LabelledScores> {
    if (!Number.isInteger(settings.top_k) || settings.top_k < 1 || settings.top_k > this.components.maxTopK) {
      throw errors.invalidValue('top_k', settings.top_k, `use 1..${this.components.maxTopK}`)
    }
    const stages = new Map<StageName, CalibrationExample[]>()
    const rerankers: RerankerModels = {}
    let lastRerankStage: StageName | undefined
    let judgedRelevant = 0
    let retrievedRelevant = 0
    let mode: RetrievalMode = settings.mode ?? 'dense'
    for (const [done, judged] of queries.entries()) {
      options.signal?.throwIfAborted()
      const response = await this.components.search.search(settings.collection, {
        ...options.search,
        query: judged.query,
        top_k: settings.top_k,
        include: ['scores'],
        ...(settings.mode !== undefined && { mode: settings.mode }),
        fusion: { ...options.search?.fusion, method: settings.fusion },
      }, { ...(options.signal !== undefined && { signal: options.signal }) })
      mode = response.mode
      const cut = response.rerank?.stages.filter((st) => st.status !== 'ok') ?? []
      if (cut.length > 0) {
        // A stage skipped for some queries would calibrate on the queries it happened to finish.
        const why = cut.map((st) => `${st.model} ${st.status}${st.reason === undefined ? '' : `: ${st.reason}`}`).join('; ')
        throw errors.invalidRequest('rerank', `the labelling search for query ${done + 1} did not run every rerank stage (${why}); give the stages more time (FUNNEL_RERANK_BUDGET_MS; rerank.budget_ms may only narrow it) or lower their top_n`)
      }
      for (const st of response.rerank?.stages ?? []) {
        rerankers[st.scoreKey] = st.model
        lastRerankStage = st.scoreKey
      }
      for (const label of judged.labels.values()) judgedRelevant += label
      for (const [rank, hit] of response.results.entries()) {
        const label = judged.labels.get(hit.id) ?? 0
        retrievedRelevant += label
        for (const stage of STAGE_NAMES) {
          const score = hit.scores?.[stage]
          if (score === undefined) continue
          let list = stages.get(stage)
          if (list === undefined) stages.set(stage, (list = []))
          // A listwise score (window log-odds) is read with the hit's rank, which the 'listwise' method uses.
          list.push(stage === 'listwise' ? { score, label, rank: rank + 1 } : { score, label })
        }
      }
      options.onProgress?.(done + 1, queries.length)
    }
    return { stages, mode, judgedRelevant, retrievedRelevant, rerankers, ...(lastRerankStage !== undefined && { lastRerankStage }) }
  }

  private async embeddingModel(row: CollectionRecord | undefined, requested: string | undefined): Promise<string> {
    if (row !== undefined && requested !== undefined && requested !== row.model) {
      throw errors.invalidValue('model', requested, `collection '${row.name}' uses '${row.model}'; leave model out or name that one`)
    }
    const id = row?.model ?? requested ?? this.components.models.defaultModelId
    return (await this.components.models.embedder(id)).id
  }

  private async fromSearch(field: 'examples' | 'qrels', request: FitRequest, row: CollectionRecord | undefined, fusion: FusionMethod, options: FitOptions) {
    if (row === undefined) {
      throw errors.invalidRequest('collection', `labelling search hits needs a collection to search; or give every example its document text`)
    }
    const judgements: Judgement[] =
      field === 'qrels'
        ? request.qrels!
        : request.examples!.map((e, i) => {
            if (e.id === undefined) throw errors.invalidRequest(`examples[${i}].id`, 'give the id of the judged document in the collection, or its text as document')
            return { query: e.query, id: e.id, label: e.label }
          })
    const labels = binaryLabels(field, judgements.map((j) => j.label), request.label_threshold)
    const byQuery = new Map<string, JudgedQuery>()
    judgements.forEach((j, i) => {
      const key = j.query_id ?? j.query
      let judged = byQuery.get(key)
      if (judged === undefined) byQuery.set(key, (judged = { query: j.query, labels: new Map() }))
      judged.labels.set(j.id, labels[i]!)
    })
    const topK = request.top_k ?? DEFAULT_CALIBRATION_TOP_K
    const search = request.rerank === undefined ? options.search : { ...options.search, rerank: request.rerank }
    const labelled = await this.labelSearchHits([...byQuery.values()], {
      collection: row.name,
      top_k: topK,
      fusion,
      ...(request.mode !== undefined && { mode: request.mode }),
    }, { ...options, ...(search !== undefined && { search }) })
    const present = STAGE_NAMES.filter((s) => labelled.stages.has(s))
    const source: CalibrationMetrics['source'] = {
      kind: 'search',
      queries: byQuery.size,
      collection: row.name,
      mode: labelled.mode,
      top_k: topK,
      judged_relevant: labelled.judgedRelevant,
      retrieved_relevant: labelled.retrievedRelevant,
      ...(request.label_threshold !== undefined && { label_threshold: request.label_threshold }),
    }
    return {
      stages: labelled.stages,
      rerankers: labelled.rerankers,
      // The last stage that ran is the one whose score a search reports.
      defaultStages: labelled.lastRerankStage !== undefined ? [labelled.lastRerankStage] : present.slice(-1),
      source,
      why: `mode ${labelled.mode} searches produced ${present.join(', ') || 'no hits'}`,
      hint:
        `only judged documents found in the top ${topK} hits count as relevant (${labelled.retrievedRelevant} of ${labelled.judgedRelevant} were found); ` +
        'raise top_k or judge more queries',
    }
  }

  private async fromPairs(examples: readonly LabelledExample[], row: CollectionRecord | undefined, model: string, requested: StageName[] | undefined, threshold: number | undefined) {
    examples.forEach((e, i) => {
      if (e.document === undefined) throw errors.invalidRequest(`examples[${i}].document`, 'give every example its document text, or none (then hits of a collection search are labelled by id)')
    })
    const labels = binaryLabels('examples', examples.map((e) => e.label), threshold)
    const stages = new Map<StageName, CalibrationExample[]>()
    const dense = await this.cosines(model, examples)
    stages.set('dense', dense.map((score, i) => ({ score, label: labels[i]! })))
    if (row !== undefined && requested?.includes('lexical')) {
      const bm25 = await this.lexicalScores(row, examples)
      stages.set('lexical', bm25.map((score, i) => ({ score, label: labels[i]! })))
    }
    const source: CalibrationMetrics['source'] = {
      kind: 'examples',
      queries: new Set(examples.map((e) => e.query)).size,
      ...(row !== undefined && { collection: row.name }),
      ...(threshold !== undefined && { label_threshold: threshold }),
    }
    const why = row === undefined ? 'examples with document text give dense cosines; lexical needs a collection' : 'examples with document text give dense and lexical scores only'
    return { stages, rerankers: undefined, defaultStages: ['dense'] as StageName[], source, why, hint: '' }
  }

  /** Cosine of each pair's query and document embeddings, as dense retrieval scores them at full dims. */
  private async cosines(modelId: string, examples: readonly LabelledExample[]): Promise<number[]> {
    const model = await this.components.models.embedder(modelId)
    const queries = [...new Set(examples.map((e) => e.query))]
    const documents = [...new Set(examples.map((e) => e.document!))]
    const queryVectors = (await model.embed(queries, 'query')).vectors
    const documentVectors = (await model.embed(documents, 'document')).vectors
    const q = new Map(queries.map((text, i) => [text, queryVectors[i]!]))
    const d = new Map(documents.map((text, i) => [text, documentVectors[i]!]))
    return examples.map((e) => cosineAtDims(q.get(e.query)!, d.get(e.document!)!, model.dims))
  }

  /** BM25 of the indexed document with each example's id; 0 when it shares no term with the query. */
  private async lexicalScores(row: CollectionRecord, examples: readonly LabelledExample[]): Promise<number[]> {
    const backend = this.components.backend
    const present = await backend.documents(row.name, examples.flatMap((e) => (e.id === undefined ? [] : [e.id])))
    examples.forEach((e, i) => {
      if (e.id === undefined || !present.has(e.id)) {
        throw errors.invalidValue(`examples[${i}].id`, e.id ?? null, `lexical scores need the id of a document in collection '${row.name}'`)
      }
    })
    const limit = Math.max(1, (await backend.collectionStats(row.name)).count)
    const byQuery = new Map<string, Map<string, number>>()
    const scores: number[] = []
    for (const e of examples) {
      let ranked = byQuery.get(e.query)
      if (ranked === undefined) byQuery.set(e.query, (ranked = new Map((await backend.lexicalSearch(row.name, { query: e.query, limit })).map((h) => [h.id, h.score]))))
      scores.push(ranked.get(e.id!) ?? 0)
    }
    return scores
  }
}

function metricsOf(fit: CalibrationFit, source: CalibrationMetrics['source']): CalibrationMetrics {
  return {
    method: fit.method,
    reason: fit.reason,
    n: fit.n,
    positives: fit.positives,
    folds: fit.folds,
    seed: fit.seed,
    baseline: fit.baseline,
    held_out: { before: toSummaryBody(fit.heldOut.before), after: toSummaryBody(fit.heldOut.after) },
    source,
  }
}
