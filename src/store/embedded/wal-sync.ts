import { open, type FileHandle } from 'node:fs/promises'

export interface WalSyncOptions {
  /** Flushes the WAL file to stable storage (default: `FileHandle.sync`, an fsync on libuv's thread pool). Tests hold it. */
  fsync?: (file: FileHandle) => Promise<void>
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
 * The main connection keeps the WAL file open for the backend's lifetime, so the file this class
 * opened once is the one SQLite writes (checkpoints reuse it from the start; they never delete it).
 *
 * @example
 *   backend.write(() => store.upsertDocuments(...))   // committed, not yet durable
 *   await walSync.sync()                              // now acknowledge
 */
export class WalSync {
  private handle: Promise<FileHandle> | undefined
  private running: Promise<void> | undefined
  private next: Promise<void> | undefined
  private closed = false

  constructor(
    /** The `-wal` file beside the database. */
    readonly file: string,
    private readonly options: WalSyncOptions = {},
  ) {}

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

  private async flush(): Promise<void> {
    this.handle ??= open(this.file, 'r+')
    let handle: FileHandle
    try {
      handle = await this.handle
    } catch (error) {
      this.handle = undefined
      throw error
    }
    await (this.options.fsync ?? ((file: FileHandle) => file.sync()))(handle)
  }

  /** Waits for flushes in flight, then closes the file. */
  async close(): Promise<void> {
    this.closed = true
    await this.next?.catch(() => undefined)
    await this.running?.catch(() => undefined)
    const handle = await this.handle?.catch(() => undefined)
    this.handle = undefined
    await handle?.close()
  }
}
