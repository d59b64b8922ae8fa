import { close, fsync, openSync } from 'node:fs'
import { promisify } from 'node:util'

const fsyncFd = promisify(fsync)
const closeFd = promisify(close)

export interface WalSyncOptions {
  /** Flushes the WAL file to stable storage (default: fsync on libuv's thread pool). Tests hold it. */
  fsync?: (fd: number) => Promise<void>
}

/**
 * Makes committed WAL frames durable without holding the event loop.
 *
 * With `synchronous = FULL` SQLite fsyncs the WAL inside every COMMIT, on the committing thread: on
 * this project's shared disk one such fsync held the event loop for 2.2 s during a 1,000 × 10 KB
 * upsert (bench:event-loop, profiled). The store therefore runs `synchronous = NORMAL` (a commit
 * writes its WAL frames without an fsync; the database stays consistent after a crash, and a kill -9
 * loses nothing because the page cache outlives the process), and a write is acknowledged only after
 * `sync()`: an fsync of the WAL file on the thread pool. On Linux an fsync flushes every dirty page of
 * the file, whichever descriptor wrote it. Concurrent writers share fsyncs (group commit): a `sync()`
 * asked for while one runs is served by the next one, which starts after it.
 *
 * The file is opened once, when this is constructed (the store has just opened the database in WAL
 * mode, so it exists), and kept open: SQLite's main connection keeps the same file for the backend's
 * lifetime (checkpoints reuse it from the start; they never delete it), and a descriptor keeps
 * working even if the path is removed under a running server.
 *
 * @example
 *   backend.write(() => store.upsertDocuments(...))   // committed, not yet durable
 *   await walSync.sync()                              // now acknowledge
 */
export class WalSync {
  private readonly fd: number
  private running: Promise<void> | undefined
  private next: Promise<void> | undefined
  private closed = false

  constructor(
    /** The `-wal` file beside the database. */
    readonly file: string,
    private readonly options: WalSyncOptions = {},
  ) {
    this.fd = openSync(file, 'r+')
  }

  /** Resolves once everything committed before the call is on stable storage. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.file}: WAL sync is closed`))
    // Callers that arrive while no flush is queued share the one queued now; it starts once the
    // running flush (which may have begun before their commits) has finished.
    this.next ??= (this.running ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        this.next = undefined
        const run = this.flush()
        this.running = run
        const clear = () => {
          if (this.running === run) this.running = undefined
        }
        run.then(clear, clear)
        return run
      })
    return this.next
  }

  private flush(): Promise<void> {
    return (this.options.fsync ?? fsyncFd)(this.fd)
  }

  /** Waits for flushes in flight, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.next?.catch(() => undefined)
    await this.running?.catch(() => undefined)
    await closeFd(this.fd)
  }
}
