import { Worker } from 'node:worker_threads'
import type { WireMetadata, WireTensor, WorkerReply, WorkerRequest } from './onnx-worker-protocol.js'
import type { PoolRequest } from './token-pooling.js'

interface Pending {
  resolve: (outputs: Record<string, WireTensor>) => void
  reject: (error: Error) => void
}

/**
 * An onnxruntime session that lives on a worker thread. onnxruntime-node runs a session synchronously
 * on the calling thread, so in-thread runs stop the event loop for their whole duration (health
 * checks, SQLite reads and HTTP parsing of other requests wait); here the main thread only copies
 * tensors in and out. Runs queue in order on the worker. If the worker dies, every pending and later
 * run fails with the reason.
 *
 * @example
 *   const backend = await WorkerSessionBackend.start('model.onnx', { graphOptimizationLevel: 'all' })
 *   const out = await backend.run({ input_ids: { type: 'int64', dims: [1, 3], data: ids } })
 *   await backend.release()
 */
export class WorkerSessionBackend {
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private dead: Error | undefined
  private releasing: ((error?: string) => void) | undefined

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputMetadata: readonly WireMetadata[],
    readonly outputMetadata: readonly WireMetadata[],
  ) {
    worker.on('message', (reply: WorkerReply) => this.receive(reply))
    worker.on('error', (error) => this.fail(error))
    worker.on('exit', (code) => this.fail(new Error(`onnxruntime worker exited with code ${code}`)))
  }

  static async start(modelPath: string, sessionOptions: object): Promise<WorkerSessionBackend> {
    // Built, both halves are JavaScript. Run from source (tsx, the test runner) the worker is
    // TypeScript too, and a worker inherits no loader registered at run time: a two-line bootstrap
    // registers tsx's, then imports it.
    const fromSource = import.meta.url.endsWith('.ts')
    const entry = new URL(`./onnx-worker-thread${fromSource ? '.ts' : '.js'}`, import.meta.url)
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
    const worker = fromSource ? new Worker(bootstrap, { eval: true, workerData: { modelPath, sessionOptions } }) : new Worker(entry, { workerData: { modelPath, sessionOptions } })
    const ready = await new Promise<Extract<WorkerReply, { kind: 'ready' }>>((resolve, reject) => {
      worker.once('message', (reply: WorkerReply) => {
        if (reply.kind === 'ready') resolve(reply)
        else reject(new Error(reply.kind === 'failed' ? reply.message : `unexpected first message from the onnxruntime worker: ${reply.kind}`))
      })
      worker.once('error', reject)
    }).catch(async (error: unknown) => {
      await worker.terminate()
      throw error
    })
    return new WorkerSessionBackend(worker, ready.inputNames, ready.outputNames, ready.inputMetadata, ready.outputMetadata)
  }

  /** Runs the session on the worker; with `pool`, that output is pooled there (token-pooling.ts). */
  run(feeds: Record<string, WireTensor>, outputs?: readonly string[], pool?: PoolRequest): Promise<Record<string, WireTensor>> {
    if (this.dead !== undefined) return Promise.reject(this.dead)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.post({ kind: 'run', id, feeds, ...(outputs !== undefined && { outputs }), ...(pool !== undefined && { pool }) })
    })
  }

  /** Releases the session on the worker, then stops the worker. */
  async release(): Promise<void> {
    if (this.dead === undefined) {
      const released = new Promise<string | undefined>((resolve) => (this.releasing = resolve))
      this.post({ kind: 'release' })
      const error = await released
      if (error !== undefined) throw new Error(`onnxruntime worker: release failed: ${error}`)
    }
    this.dead ??= new Error('onnxruntime session released')
    await this.worker.terminate()
  }

  private post(request: WorkerRequest): void {
    this.worker.postMessage(request)
  }

  private receive(reply: WorkerReply): void {
    if (reply.kind === 'released') {
      this.dead = new Error('onnxruntime session released')
      this.releasing?.(reply.error)
      return
    }
    if (reply.kind !== 'result' && reply.kind !== 'error') return
    const pending = this.pending.get(reply.id)
    if (pending === undefined) return
    this.pending.delete(reply.id)
    if (reply.kind === 'result') pending.resolve(reply.outputs)
    else pending.reject(new Error(reply.message))
  }

  private fail(error: Error): void {
    this.dead ??= error
    for (const pending of this.pending.values()) pending.reject(this.dead)
    this.pending.clear()
    this.releasing?.()
  }
}
