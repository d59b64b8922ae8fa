import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** What `PRAGMA wal_checkpoint` reports: busy flag, frames in the WAL, frames copied to the database. */
export interface CheckpointResult {
  busy: number
  log: number
  checkpointed: number
}

export interface WalCheckpointerOptions {
  /** How often the checkpointer looks whether to checkpoint (default 500 ms). */
  intervalMs?: number
  /** Checkpoint once no write was noted for this long (default 1,000 ms)... */
  quietMs?: number
  /** ...or, during a long write, once the WAL file is this large (default 64 MiB). */
  maxWalBytes?: number
  log: (obj: object, msg: string) => void
  /** Called once if the worker dies before `close()` (the owner turns automatic checkpoints back on). */
  onFailure: (error: Error) => void
}

// The worker's whole program: its own connection to the same file, one PASSIVE checkpoint per
// message. Plain CommonJS so it runs from source and from the build alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file, { fileMustExist: true })
db.pragma('busy_timeout = 5000')
parentPort.on('message', (id) => {
  if (id === 'close') {
    db.close()
    parentPort.close()
    return
  }
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)')
    parentPort.postMessage({ id, result: row })
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) })
  }
})
parentPort.postMessage({ id: 0, ready: true })
`

/**
 * Checkpoints a SQLite WAL on a worker thread. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses its threshold (1,000 pages), copying the whole WAL into the database file on the
 * committing thread: during a 1,000 x 10 KB upsert that was single stretches of 180-250 ms on the
 * event loop. The owner turns automatic checkpoints off on its connection (`wal_autocheckpoint = 0`)
 * and this worker's own connection runs PASSIVE checkpoints, which never block the writer (a
 * checkpoint stops at frames a reader still needs and continues next time). They run between write
 * bursts (once no write was noted for `quietMs`), or during one when the WAL passes `maxWalBytes`:
 * a checkpoint's writes and fsync running beside a commit's fsync held that commit (and so the event
 * loop) for 100-250 ms on this project's shared disk.
 */
export class WalCheckpointer {
  private timer: NodeJS.Timeout | undefined
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }>()
  private inFlight: Promise<CheckpointResult> | undefined
  private closed = false
  private failed = false
  private lastWriteAt = 0
  /** A write was noted since the last checkpoint began (the first tick after start checkpoints too). */
  private dirty = true

  private constructor(
    private readonly worker: Worker,
    private readonly file: string,
    private readonly options: WalCheckpointerOptions,
  ) {
    worker.on('message', (message: { id: number; result?: CheckpointResult; error?: string }) => {
      const waiter = this.pending.get(message.id)
      if (waiter === undefined) return
      this.pending.delete(message.id)
      if (message.error !== undefined) waiter.reject(new Error(message.error))
      else waiter.resolve(message.result!)
    })
    worker.on('error', (error) => this.fail(error))
    worker.on('exit', (code) => this.fail(new Error(`the WAL checkpoint worker exited with code ${code}`)))
    this.timer = setInterval(() => {
      if (!this.due()) return
      void this.checkpoint().catch((error: unknown) => this.options.log({ err: error }, 'WAL checkpoint failed; retried next interval'))
    }, options.intervalMs ?? 500)
    this.timer.unref()
  }

  /** Starts the worker on `file` (which must exist) and resolves once its connection is open. */
  static async start(file: string, options: WalCheckpointerOptions): Promise<WalCheckpointer> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver } })
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve())
      worker.once('error', reject)
    }).catch(async (error: unknown) => {
      await worker.terminate()
      throw error
    })
    return new WalCheckpointer(worker, file, options)
  }

  /** Notes that a write committed (checkpoints wait for a quiet moment). */
  noteWrite(): void {
    this.lastWriteAt = performance.now()
    this.dirty = true
  }

  private due(): boolean {
    if (!this.dirty || this.inFlight !== undefined) return false
    if (performance.now() - this.lastWriteAt >= (this.options.quietMs ?? 1000)) return true
    try {
      return statSync(`${this.file}-wal`).size >= (this.options.maxWalBytes ?? 64 * 1024 * 1024)
    } catch {
      return false
    }
  }

  /** Runs one PASSIVE checkpoint now (one at a time: a call during another one shares its result). */
  checkpoint(): Promise<CheckpointResult> {
    if (this.closed || this.failed) return Promise.reject(new Error('the WAL checkpointer is closed'))
    this.inFlight ??= new Promise<CheckpointResult>((resolve, reject) => {
      this.dirty = false
      const id = this.nextId++
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage(id)
    }).finally(() => {
      this.inFlight = undefined
    })
    return this.inFlight
  }

  /** Stops the timer, waits for a running checkpoint and ends the worker (its connection closes with it). */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.inFlight?.catch(() => undefined)
    this.closed = true
    if (this.failed) return
    const exited = new Promise((resolve) => this.worker.once('exit', resolve))
    this.worker.postMessage('close')
    await exited
  }

  private fail(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
    if (this.closed || this.failed) return
    this.failed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.options.onFailure(error)
  }
}
