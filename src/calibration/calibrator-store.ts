import type Database from 'better-sqlite3'
import type { StageName } from '../candidate.js'
import type { CalibrationMetrics } from '../schemas/calibration.js'
import { applyCalibrator, parseCalibrator, type SerialisedCalibrator } from './fit.js'


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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS calibrators (
  model TEXT NOT NULL,
  stage TEXT NOT NULL,
  version INTEGER NOT NULL,
  calibrator TEXT NOT NULL,
  metrics TEXT NOT NULL,
  created_at TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
  PRIMARY KEY (model, stage, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS calibrators_one_active ON calibrators (model, stage) WHERE active = 1;
`

interface RawCalibrator {
  model: string
  stage: string
  version: number
  calibrator: string
  metrics: string
  created_at: string
  active: number
}

const toStored = (row: RawCalibrator): StoredCalibrator => ({
  model: row.model,
  stage: row.stage as StageName,
  version: row.version,
  calibrator: parseCalibrator(JSON.parse(row.calibrator)),
  metrics: JSON.parse(row.metrics) as CalibrationMetrics,
  created_at: row.created_at,
  active: row.active === 1,
})

const cacheKey = (model: string, stage: StageName): string => `${stage}\u0000${model}`

/**
 * Fitted calibrators, versioned per (model, stage), in the service's SQLite database. `save` adds a
 * new version of each and makes it the active one, all in one transaction; nothing else writes, so a
 * fit that fails before `save` leaves the active calibrators as they were. Active calibrators are
 * cached in memory for `apply` and the cache entry is dropped when a new version is saved (a fit made
 * by another process on the same file is seen after a restart).
 *
 * @example
 *   const calibrators = new CalibratorStore(app.store.db)
 *   calibrators.save([{ model: 'bm25', stage: 'lexical', calibrator: fit.calibrator, metrics }])
 *   calibrators.apply('bm25', 'lexical', 12.3)   // P(relevant)
 */
export class CalibratorStore implements Calibrators {
  private readonly cache = new Map<string, SerialisedCalibrator | null>()

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA)
  }

  /** Stores each as version max + 1 of its (model, stage) and activates it; all or none. */
  save(calibrators: readonly NewCalibrator[]): StoredCalibrator[] {
    const nextVersion = this.db.prepare('SELECT coalesce(max(version), 0) + 1 AS version FROM calibrators WHERE model = ? AND stage = ?')
    const deactivate = this.db.prepare('UPDATE calibrators SET active = 0 WHERE model = ? AND stage = ? AND active = 1')
    const insert = this.db.prepare(
      'INSERT INTO calibrators (model, stage, version, calibrator, metrics, created_at, active) VALUES (?, ?, ?, ?, ?, ?, 1)',
    )
    const created_at = new Date().toISOString()
    const saved = this.db
      .transaction(() =>
        calibrators.map(({ model, stage, calibrator, metrics }) => {
          const { version } = nextVersion.get(model, stage) as { version: number }
          deactivate.run(model, stage)
          insert.run(model, stage, version, JSON.stringify(calibrator), JSON.stringify(metrics), created_at)
          return { model, stage, version, calibrator, metrics, created_at, active: true }
        }),
      )
      .immediate()
    for (const { model, stage } of saved) this.cache.delete(cacheKey(model, stage))
    return saved
  }

  active(model: string, stage: StageName): StoredCalibrator | undefined {
    const row = this.db.prepare('SELECT * FROM calibrators WHERE model = ? AND stage = ? AND active = 1').get(model, stage) as
      | RawCalibrator
      | undefined
    return row === undefined ? undefined : toStored(row)
  }

  /** The active calibrator of every (model, stage). */
  list(): StoredCalibrator[] {
    return (this.db.prepare('SELECT * FROM calibrators WHERE active = 1 ORDER BY stage, model').all() as RawCalibrator[]).map(toStored)
  }

  /** Every version of one (model, stage), newest first. */
  history(model: string, stage: StageName): StoredCalibrator[] {
    return (
      this.db.prepare('SELECT * FROM calibrators WHERE model = ? AND stage = ? ORDER BY version DESC').all(model, stage) as RawCalibrator[]
    ).map(toStored)
  }

  apply(model: string, stage: StageName, raw: number | number[], context: { index?: number; rank?: number } = {}): number | undefined {
    const key = cacheKey(model, stage)
    let calibrator = this.cache.get(key)
    if (calibrator === undefined) {
      calibrator = this.active(model, stage)?.calibrator ?? null
      this.cache.set(key, calibrator)
    }
    return calibrator === null ? undefined : applyCalibrator(calibrator, raw, context)
  }
}
