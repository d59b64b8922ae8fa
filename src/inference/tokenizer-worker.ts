import { Worker } from 'node:worker_threads'
import type { TokenizedText } from './tokenizer.js'

export interface TokenizerRequest {
  id: number
  texts: string[]
  maxLength: number
}

export type TokenizerReply =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; encoded: TokenizedText[] }
  | { kind: 'error'; id: number; message: string }

/**
 * A model folder's tokenizer on a worker thread (the same `TextTokenizer.encode`, so the same ids).
 * tokenizers.js is synchronous JavaScript: one 10 KB text took 14-48 ms to encode on this project's
 * machine, the longest single step left on the event loop during a large upsert. Batches are encoded
 * in arrival order; if the worker dies, calls in flight and later ones reject.
 *
 * @example
 *   const worker = await TokenizerWorker.start('models/intfloat/e5-small-v2')
 *   const [encoded] = await worker.encodeMany(['passage: solar power'], 512)
 *   await worker.close()
 */
export class TokenizerWorker {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (encoded: TokenizedText[]) => void; reject: (error: Error) => void }>()
  private dead: Error | undefined
  /** Texts encoded on the worker (tests, metrics). */
  encodedTexts = 0

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: TokenizerReply) => this.receive(reply))
    worker.on('error', (error) => this.fail(error))
    worker.on('exit', (code) => this.fail(new Error(`tokenizer worker exited with code ${code}`)))
    worker.unref()
  }

  static async start(dir: string): Promise<TokenizerWorker> {
    // As in onnx-worker-session.ts: run from source the worker is TypeScript, and a worker inherits
    // no loader registered at run time, so a two-line bootstrap registers tsx's first.
    const fromSource = import.meta.url.endsWith('.ts')
    const entry = new URL(`./tokenizer-worker-thread${fromSource ? '.ts' : '.js'}`, import.meta.url)
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
    const worker = fromSource ? new Worker(bootstrap, { eval: true, workerData: { dir } }) : new Worker(entry, { workerData: { dir } })
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (reply: TokenizerReply) => {
        if (reply.kind === 'ready') resolve()
        else reject(new Error(reply.kind === 'failed' ? `tokenizer worker: ${reply.message}` : `unexpected first message from the tokenizer worker: ${reply.kind}`))
      })
      worker.once('error', reject)
    }).catch(async (error: unknown) => {
      await worker.terminate()
      throw error
    })
    return new TokenizerWorker(worker)
  }

  /** `TextTokenizer.encode(text, maxLength)` of each text, in order. */
  encodeMany(texts: readonly string[], maxLength: number): Promise<TokenizedText[]> {
    if (this.dead !== undefined) return Promise.reject(this.dead)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage({ id, texts: [...texts], maxLength } satisfies TokenizerRequest)
    })
  }

  private receive(reply: TokenizerReply): void {
    if (reply.kind !== 'result' && reply.kind !== 'error') return
    const pending = this.pending.get(reply.id)
    if (pending === undefined) return
    this.pending.delete(reply.id)
    if (this.pending.size === 0) this.worker.unref()
    if (reply.kind === 'result') {
      this.encodedTexts += reply.encoded.length
      pending.resolve(reply.encoded)
    } else {
      pending.reject(new Error(`tokenizer worker: ${reply.message}`))
    }
  }

  private fail(error: Error): void {
    this.dead ??= error
    for (const pending of this.pending.values()) pending.reject(this.dead)
    this.pending.clear()
  }

  async close(): Promise<void> {
    this.fail(new Error('tokenizer worker closed'))
    await this.worker.terminate()
  }
}
