import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

// The worker's whole program: decode the body, parse it with Fastify's own secure parser (prototype
// and constructor poisoning refused, as Fastify's default JSON parser refuses them), post the value
// back. Plain CommonJS so it runs from source and from the build alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const secureJson = require(workerData.parser)
parentPort.on('message', ({ id, body }) => {
  if (id === 'close') {
    parentPort.close()
    return
  }
  let value
  try {
    value = secureJson.parse(Buffer.from(body).toString('utf8'), { protoAction: 'error', constructorAction: 'error' })
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) })
    return
  }
  parentPort.postMessage({ id, value })
})
`

export interface JsonParseWorkerOptions {
  log: (obj: object, msg: string) => void
}

/**
 * Parses large JSON request bodies on a worker thread. On the event loop a 10 MB batch cost ~130 ms
 * of one synchronous stretch before any Funnel code ran: decoding the bytes (~60 ms), JSON.parse
 * (~40 ms) and secure-json-parse's poisoning scans (~27 ms), the longest stall left in
 * bench:event-loop. Here the bytes are moved to the worker (transferred, not copied), and the main
 * thread only deserialises the parsed value. Bodies are parsed one at a time, in arrival order; if
 * the worker dies, `parse` rejects what was in flight and callers fall back to parsing inline
 * (`alive` turns false).
 *
 * @example
 *   const worker = await JsonParseWorker.start({ log })
 *   const value = await worker.parse(body)      // SyntaxError when malformed or poisoned
 *   await worker.close()
 */
export class JsonParseWorker {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  private closing = false
  private dead = false
  /** Bodies parsed on the worker (metrics, tests). */
  parsed = 0

  private constructor(private readonly worker: Worker) {}

  static async start(options: JsonParseWorkerOptions): Promise<JsonParseWorker> {
    const parser = createRequire(import.meta.url).resolve('secure-json-parse')
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { parser } })
    const self = new JsonParseWorker(worker)
    worker.on('message', (message: { id: number; value?: unknown; error?: string }) => {
      const waiter = self.pending.get(message.id)
      if (waiter === undefined) return
      self.pending.delete(message.id)
      if (self.pending.size === 0) worker.unref()
      if (message.error === undefined) {
        self.parsed++
        waiter.resolve(message.value)
      } else {
        waiter.reject(new SyntaxError(message.error))
      }
    })
    const fail = (error: Error) => {
      if (self.dead) return
      self.dead = true
      if (!self.closing) options.log({ err: error }, 'JSON parse worker stopped; large bodies are parsed on the event loop again')
      for (const waiter of self.pending.values()) waiter.reject(Object.assign(new Error(`JSON parse worker stopped: ${error.message}`), { statusCode: 503 }))
      self.pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)))
    worker.unref()
    return self
  }

  /** Whether the worker can take bodies (false once it died or was closed). */
  get alive(): boolean {
    return !this.dead && !this.closing
  }

  /** The JSON value of a UTF-8 body. The buffer's memory is handed to the worker: do not use `body` afterwards. */
  parse(body: Buffer): Promise<unknown> {
    if (!this.alive) return Promise.reject(new Error('JSON parse worker is not running'))
    const id = this.nextId++
    // Transfer when the buffer owns its whole ArrayBuffer; a view into a shared one is copied.
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer
    const bytes = owned ? (body.buffer as ArrayBuffer) : body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)
    return new Promise((resolve, reject) => {
      // Referenced only while a parse is in flight: an idle worker does not keep the process alive.
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage({ id, body: bytes }, [bytes as ArrayBuffer])
    })
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    for (const waiter of this.pending.values()) waiter.reject(Object.assign(new Error('JSON parse worker closed'), { statusCode: 503 }))
    this.pending.clear()
    await this.worker.terminate()
  }
}
