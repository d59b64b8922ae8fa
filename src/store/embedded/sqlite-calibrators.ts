import type Database from 'better-sqlite3'
import type { StageName } from '../../candidate.js'
import { storedCalibrator, type CalibratorRepository, type CalibratorRow } from '../../calibration/calibrator-repository.js'
import type { NewCalibrator, StoredCalibrator } from '../../calibration/calibrator-store.js'

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

interface RawCalibrator extends CalibratorRow {
  active: number
}

const toStored = (row: RawCalibrator): StoredCalibrator => storedCalibrator(row, row.active === 1)

/**
 * Calibrators in the embedded backend's SQLite file (table `calibrators`), versioned per (model,
 * stage). `save` adds a new version of each and makes it the active one, all in one transaction.
 */
export class SqliteCalibratorRepository implements CalibratorRepository {
  constructor(
    private readonly db: Database.Database,
    /** Makes committed writes durable before `save` resolves (the store commits without fsync; see WalSync). */
    private readonly durable: () => Promise<void> = async () => undefined,
  ) {
    db.exec(SCHEMA)
  }

  async save(calibrators: readonly NewCalibrator[]): Promise<StoredCalibrator[]> {
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
    await this.durable()
    return saved
  }

  async active(model: string, stage: StageName): Promise<StoredCalibrator | undefined> {
    const row = this.db.prepare('SELECT * FROM calibrators WHERE model = ? AND stage = ? AND active = 1').get(model, stage) as RawCalibrator | undefined
    return row === undefined ? undefined : toStored(row)
  }

  async list(): Promise<StoredCalibrator[]> {
    return (this.db.prepare('SELECT * FROM calibrators WHERE active = 1 ORDER BY stage, model').all() as RawCalibrator[]).map(toStored)
  }

  async history(model: string, stage: StageName): Promise<StoredCalibrator[]> {
    return (this.db.prepare('SELECT * FROM calibrators WHERE model = ? AND stage = ? ORDER BY version DESC').all(model, stage) as RawCalibrator[]).map(toStored)
  }
}
