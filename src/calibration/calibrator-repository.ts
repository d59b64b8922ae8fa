import type { StageName } from '../candidate.js'
import type { CalibrationMetrics, NewCalibrator, StoredCalibrator } from './calibrator-store.js'
import { parseCalibrator } from './fit.js'

/**
 * Where fitted calibrators are kept, versioned per (model, stage). The embedded backend keeps them in
 * its SQLite file; a distributed backend keeps them in the cluster so every replica applies the same ones.
 */
export interface CalibratorRepository {
  /** Stores each as version max + 1 of its (model, stage) and activates it; all or none. */
  save(calibrators: readonly NewCalibrator[]): Promise<StoredCalibrator[]>
  active(model: string, stage: StageName): Promise<StoredCalibrator | undefined>
  /** The active calibrator of every (model, stage). */
  list(): Promise<StoredCalibrator[]>
  /** Every version of one (model, stage), newest first. */
  history(model: string, stage: StageName): Promise<StoredCalibrator[]>
}

/** One calibrator version as a repository stores it: the calibrator and its metrics as JSON text. */
export interface CalibratorRow {
  model: string
  stage: string
  version: number
  calibrator: string
  metrics: string
  created_at: string
}

/** A stored row read back (the calibrator validated by `parseCalibrator`); `active` is the repository's to say. */
export function storedCalibrator(row: CalibratorRow, active: boolean): StoredCalibrator {
  return {
    model: row.model,
    stage: row.stage as StageName,
    version: row.version,
    calibrator: parseCalibrator(JSON.parse(row.calibrator)),
    metrics: JSON.parse(row.metrics) as CalibrationMetrics,
    created_at: row.created_at,
    active,
  }
}
