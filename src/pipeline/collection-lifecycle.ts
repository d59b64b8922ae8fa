/** Points where the lifecycle lets a test hold an operation, to run another one in exactly that gap. */
export type LifecyclePoint =
  /** An operation has to queue behind another one on the same collection (`detail` says which kind). */
  | 'lock-wait'
  /** create(): index files removed, about to commit the row and register the indexes. */
  | 'create:commit'
  /** Boot: about to open one collection's indexes. */
  | 'open:collection'

/** Called at each LifecyclePoint; a returned promise holds the operation there until it settles. */
export type LifecycleProbe = (point: LifecyclePoint, collection: string, detail?: string) => Promise<void> | void

export type LockMode = 'shared' | 'exclusive'

interface Waiter {
  mode: LockMode
  grant: () => void
}

interface Entry {
  readers: number
  writer: boolean
  queue: Waiter[]
}

/**
 * Orders every operation on one collection name: reads and writes of documents (search, upsert,
 * delete, describe) share the name; create, drop and boot-time opening hold it alone. Waiters are
 * served first come, first served, so a drop queued behind searches is not starved by later ones,
 * and nothing runs on a collection that is half created, half dropped or still opening.
 *
 * A grant happens synchronously inside `acquire` when the name is free, so a caller that acquires
 * several names in one tick holds all of them before any other request runs.
 *
 * @example
 *   const lifecycle = new CollectionLifecycle()
 *   await lifecycle.run('books', 'exclusive', async () => dropBooks())
 *   await lifecycle.run('books', 'shared', async () => searchBooks()) // waits for the drop
 */
export class CollectionLifecycle {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly probe: () => LifecycleProbe | undefined = () => undefined) {}

  /** Resolves with a release function once `mode` is held on `name`. Release exactly once. */
  acquire(name: string, mode: LockMode): Promise<() => void> {
    let entry = this.entries.get(name)
    if (entry === undefined) {
      entry = { readers: 0, writer: false, queue: [] }
      this.entries.set(name, entry)
    }
    const release = this.releaser(name, entry, mode)
    if (entry.queue.length === 0 && this.grantable(entry, mode)) {
      this.take(entry, mode)
      return Promise.resolve(release)
    }
    const queued = new Promise<() => void>((resolve) => entry.queue.push({ mode, grant: () => resolve(release) }))
    void this.probe()?.('lock-wait', name, mode)
    return queued
  }

  /** Runs `fn` holding `mode` on `name`. */
  async run<T>(name: string, mode: LockMode, fn: () => Promise<T> | T): Promise<T> {
    const release = await this.acquire(name, mode)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** True while create, drop or opening holds `name` (or one is queued for it). */
  isChanging(name: string): boolean {
    const entry = this.entries.get(name)
    return entry !== undefined && (entry.writer || entry.queue.some((w) => w.mode === 'exclusive'))
  }

  private grantable(entry: Entry, mode: LockMode): boolean {
    return mode === 'shared' ? !entry.writer : !entry.writer && entry.readers === 0
  }

  private take(entry: Entry, mode: LockMode): void {
    if (mode === 'shared') entry.readers++
    else entry.writer = true
  }

  private releaser(name: string, entry: Entry, mode: LockMode): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      if (mode === 'shared') entry.readers--
      else entry.writer = false
      while (entry.queue.length > 0 && this.grantable(entry, entry.queue[0]!.mode)) {
        const next = entry.queue.shift()!
        this.take(entry, next.mode)
        next.grant()
      }
      if (entry.readers === 0 && !entry.writer && entry.queue.length === 0) this.entries.delete(name)
    }
  }
}
