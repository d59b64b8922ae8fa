import type { StageName } from '../candidate.js'
import type { NewCalibrator, StoredCalibrator } from './calibrator-store.js'

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
