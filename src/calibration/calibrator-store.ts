import type { StageName } from '../candidate.js'
import type { CalibrationMetrics } from '../schemas/calibration.js'
import type { CalibratorRepository } from './calibrator-repository.js'
import { applyCalibrator, type SerialisedCalibrator } from './fit.js'


/** The `model` key of the lexical stage: BM25 has no model, one calibrator serves every collection. */
export const LEXICAL_STAGE_MODEL = 'bm25'

/**
 * The key a stage's calibrator is stored under: the embedding model id for dense, 'bm25' for lexical,
 * the fusion method for fused, the reranker model id for embedding, cross_encoder and listwise.
 *
 * @example
 *   stageModel('fused', { embeddingModel: row.model, fusion: 'rrf' })   // 'rrf'
 */
export function stageModel(
  stage: StageName,
  context: { embeddingModel: string; fusion: 'rrf' | 'weighted'; rerankers?: Partial<Record<'embedding' | 'cross_encoder' | 'listwise', string>> },
): string | undefined {
  switch (stage) {
    case 'dense':
      return context.embeddingModel
    case 'lexical':
      return LEXICAL_STAGE_MODEL
    case 'fused':
      return context.fusion
    default:
      return context.rerankers?.[stage]
  }
}

/**
 * Calibrated P(relevant) for a stage's raw score, or undefined when that (model, stage) has no active
 * calibrator. What the search pipeline calls per hit.
 *
 * @example
 *   calibrators.apply('funnel/glove-6b-100d-static', 'dense', 0.71)      // 0.18
 *   calibrators.apply('my-listwise', 'listwise', windowLogits, { index: 2, rank: 3 })
 */
export interface Calibrators {
  apply(model: string, stage: StageName, raw: number | number[], context?: { index?: number; rank?: number }): number | undefined
}

// What is stored with each calibrator is also what GET /v1/calibration answers: the schema's type.
export type { CalibrationMetrics } from '../schemas/calibration.js'

export interface StoredCalibrator {
  model: string
  stage: StageName
  version: number
  calibrator: SerialisedCalibrator
  metrics: CalibrationMetrics
  created_at: string
  active: boolean
}

export interface NewCalibrator {
  model: string
  stage: StageName
  calibrator: SerialisedCalibrator
  metrics: CalibrationMetrics
}

const cacheKey = (model: string, stage: StageName): string => `${stage}\u0000${model}`

/**
 * The active calibrators, held in memory for `apply` (a search applies one per hit) over the backend's
 * repository, which keeps every version. `save` writes through and updates the cache; `refresh` reloads
 * it, so a replica sees a fit made by another one (the calibration plugin refreshes on an interval).
 *
 * @example
 *   const calibrators = await CalibratorStore.open(backend.calibrators)
 *   await calibrators.save([{ model: 'bm25', stage: 'lexical', calibrator: fit.calibrator, metrics }])
 *   calibrators.apply('bm25', 'lexical', 12.3)   // P(relevant)
 */
export class CalibratorStore implements Calibrators {
  private cache = new Map<string, SerialisedCalibrator>()

  private constructor(private readonly repository: CalibratorRepository) {}

  static async open(repository: CalibratorRepository): Promise<CalibratorStore> {
    const store = new CalibratorStore(repository)
    await store.refresh()
    return store
  }

  /** Reloads the active calibrators from the repository. */
  async refresh(): Promise<void> {
    const active = await this.repository.list()
    this.cache = new Map(active.map((c) => [cacheKey(c.model, c.stage), c.calibrator]))
  }

  /** Stores each as version max + 1 of its (model, stage) and activates it; all or none. */
  async save(calibrators: readonly NewCalibrator[]): Promise<StoredCalibrator[]> {
    const saved = await this.repository.save(calibrators)
    for (const c of saved) this.cache.set(cacheKey(c.model, c.stage), c.calibrator)
    return saved
  }

  active(model: string, stage: StageName): Promise<StoredCalibrator | undefined> {
    return this.repository.active(model, stage)
  }

  /** The active calibrator of every (model, stage). */
  list(): Promise<StoredCalibrator[]> {
    return this.repository.list()
  }

  /** Every version of one (model, stage), newest first. */
  history(model: string, stage: StageName): Promise<StoredCalibrator[]> {
    return this.repository.history(model, stage)
  }

  apply(model: string, stage: StageName, raw: number | number[], context: { index?: number; rank?: number } = {}): number | undefined {
    const calibrator = this.cache.get(cacheKey(model, stage))
    return calibrator === undefined ? undefined : applyCalibrator(calibrator, raw, context)
  }
}
