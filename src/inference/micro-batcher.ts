import type { EmbeddingBatch, InputKind } from './embedding-model.js'

/** The shape of `EmbeddingModel.embed`; the batcher both takes and offers it. */
export type EmbedFunction = (texts: readonly string[], kind?: InputKind) => Promise<EmbeddingBatch>

export interface MicroBatcherOptions {
  /**
   * How long the first queued request may wait for company before its batch is sent, in ms.
   * 0 (the default) still merges every caller queued by the time the event loop comes round: with
   * onnxruntime-node running synchronously, that is everyone who arrived during the previous run,
   * and a 2 ms wait measured 25% fewer requests/s for a lone caller and no gain under load.
   */
  maxWaitMs?: number
  /**
   * Texts per merged call. A caller with more texts than this (a bulk upsert) skips the queue and
   * calls the wrapped function at once, so queued queries never wait behind it. Default 32.
   */
  maxBatchTexts?: number
  /**
   * Merged calls running at once. 1 (the default) keeps one ONNX run at a time, so requests that
   * arrive during a run gather into the next one instead of competing with it for the same cores.
   */
  maxInFlight?: number
  /** Called after every merged call, for metrics and logs. */
  onBatch?: (info: BatchInfo) => void
}

export interface BatchInfo {
  kind: InputKind
  callers: number
  texts: number
  /** How long the oldest caller in the batch waited before the call started. */
  queuedMs: number
  runMs: number
  failed: boolean
}

export interface MicroBatcherStats {
  batches: number
  callers: number
  texts: number
  largestBatch: number
}

interface Job {
  texts: readonly string[]
  kind: InputKind
  enqueuedAt: number
  resolve: (batch: EmbeddingBatch) => void
  reject: (error: unknown) => void
}

const DEFAULTS = { maxWaitMs: 0, maxBatchTexts: 32, maxInFlight: 1 } as const

function checkOption(name: string, value: number, min: number): void {
  if (!(Number.isFinite(value) || value === Infinity) || value < min) {
    throw new RangeError(`micro-batcher ${name}: ${value} is not allowed; use a number >= ${min}`)
  }
}

/**
 * Merges concurrent embed calls for one model into fewer, larger calls, so a burst of single-query
 * searches costs one ONNX run instead of one each. Each caller gets back exactly its own vectors,
 * token counts and truncation flags, in its own order; if a merged call fails, every caller in it
 * sees the error. Queries and documents are never mixed in one call (their prefixes differ).
 *
 * Texts of all callers go to the wrapped function in one call, so `EmbeddingModel.embed`'s length
 * sort spans the whole merged batch and padding stays small.
 *
 * A request waits at most `maxWaitMs` for company while the model is idle; while a run is in flight
 * (`maxInFlight` reached) new requests queue and go together as soon as it finishes. Callers with
 * more than `maxBatchTexts` texts are batches already: they bypass the queue, so a bulk upsert never
 * holds up queued queries (it shares the cores with them, as it would without the batcher).
 *
 * Two caveats, both measured (docs/benchmarks/embedding-throughput.md): onnxruntime-node runs a session
 * synchronously on the JS thread, so a timer can fire late by up to one run; and with an int8
 * dynamically quantised model a text's vector depends slightly on its batch neighbours (activation
 * scales are per tensor; cosine to the lone vector >= 0.988 on MiniLM-q), so merged and lone calls
 * agree exactly only for fp32 models.
 *
 * @example
 *   const batcher = new MicroBatcher((texts, kind) => model.embed(texts, kind), { maxBatchTexts: 32 })
 *   const { vectors } = await batcher.embed(['solar power'], 'query')
 *   await batcher.close()
 */
export class MicroBatcher {
  private readonly maxWaitMs: number
  private readonly maxBatchTexts: number
  private readonly maxInFlight: number
  private readonly queue: Job[] = []
  private queuedTexts = 0
  private inFlight = 0
  private timer: { cancel: () => void } | undefined
  private closed = false
  private idleWaiters: (() => void)[] = []
  private readonly counters: MicroBatcherStats = { batches: 0, callers: 0, texts: 0, largestBatch: 0 }

  constructor(
    private readonly embedFn: EmbedFunction,
    private readonly options: MicroBatcherOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? DEFAULTS.maxWaitMs
    this.maxBatchTexts = options.maxBatchTexts ?? DEFAULTS.maxBatchTexts
    this.maxInFlight = options.maxInFlight ?? DEFAULTS.maxInFlight
    checkOption('maxWaitMs', this.maxWaitMs, 0)
    checkOption('maxBatchTexts', this.maxBatchTexts, 1)
    checkOption('maxInFlight', this.maxInFlight, 1)
  }

  /** Same contract as `EmbeddingModel.embed`: vectors come back in input order. */
  embed = (texts: readonly string[], kind: InputKind = 'document'): Promise<EmbeddingBatch> => {
    if (this.closed) return Promise.reject(new Error('micro-batcher: closed; no new embed calls are accepted'))
    if (texts.length === 0) return Promise.resolve({ vectors: [], tokenCounts: [], truncated: [] })
    if (texts.length > this.maxBatchTexts) return this.bypass(texts, kind)
    return new Promise<EmbeddingBatch>((resolve, reject) => {
      this.queue.push({ texts, kind, enqueuedAt: performance.now(), resolve, reject })
      this.queuedTexts += texts.length
      if (this.queuedTexts >= this.maxBatchTexts) this.dispatch()
      else this.armTimer()
    })
  }

  stats(): MicroBatcherStats {
    return { ...this.counters }
  }

  /** Sends whatever is queued now, waits for every merged call in flight, and refuses new calls. */
  async close(): Promise<void> {
    this.closed = true
    this.clearTimer()
    while (this.queue.length > 0 || this.inFlight > 0) {
      this.dispatch(true)
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    }
  }

  /** Bulk callers are already a batch: they run now, outside the queue and the in-flight limit. */
  private async bypass(texts: readonly string[], kind: InputKind): Promise<EmbeddingBatch> {
    const started = performance.now()
    let failed = true
    try {
      const batch = await this.embedFn(texts, kind)
      failed = false
      return batch
    } finally {
      this.record(kind, 1, texts.length, started, started, failed)
    }
  }

  private armTimer(): void {
    if (this.timer !== undefined) return
    const fire = () => {
      this.timer = undefined
      this.dispatch(true)
    }
    if (this.maxWaitMs === 0) {
      const handle = setImmediate(fire)
      this.timer = { cancel: () => clearImmediate(handle) }
    } else {
      const handle = setTimeout(fire, this.maxWaitMs)
      this.timer = { cancel: () => clearTimeout(handle) }
    }
  }

  private clearTimer(): void {
    this.timer?.cancel()
    this.timer = undefined
  }

  /**
   * Starts merged calls while there is room in flight. Without `force`, only full batches go (a
   * partial one keeps waiting for its timer); with it, partial batches go too.
   */
  private dispatch(force = false): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      if (!force && this.queuedTexts < this.maxBatchTexts) break
      void this.run(this.takeBatch())
    }
    if (this.queue.length > 0 && this.inFlight < this.maxInFlight) this.armTimer()
    else this.clearTimer()
  }

  /** The oldest job plus later jobs of the same kind, in arrival order, within the text budget. */
  private takeBatch(): Job[] {
    const kind = this.queue[0]!.kind
    const batch: Job[] = []
    let texts = 0
    for (let i = 0; i < this.queue.length; ) {
      const job = this.queue[i]!
      const fits = batch.length === 0 || texts + job.texts.length <= this.maxBatchTexts
      if (job.kind !== kind || !fits) {
        i++
        continue
      }
      batch.push(job)
      texts += job.texts.length
      this.queue.splice(i, 1)
      if (texts >= this.maxBatchTexts) break
    }
    this.queuedTexts -= texts
    return batch
  }

  private async run(jobs: Job[]): Promise<void> {
    this.inFlight++
    const started = performance.now()
    const texts = jobs.length === 1 ? jobs[0]!.texts : jobs.flatMap((job) => job.texts)
    let failed = false
    try {
      const merged = await Promise.resolve().then(() => this.embedFn(texts, jobs[0]!.kind))
      splitBatch(merged, jobs)
    } catch (error) {
      failed = true
      for (const job of jobs) job.reject(error)
    } finally {
      this.inFlight--
      this.record(jobs[0]!.kind, jobs.length, texts.length, jobs[0]!.enqueuedAt, started, failed)
      // The model is free: whatever queued during the run has waited long enough, send it now.
      if (this.queue.length > 0) this.dispatch(true)
      if (this.inFlight === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((wake) => wake())
    }
  }

  private record(kind: InputKind, callers: number, texts: number, enqueuedAt: number, started: number, failed: boolean): void {
    this.counters.batches++
    this.counters.callers += callers
    this.counters.texts += texts
    this.counters.largestBatch = Math.max(this.counters.largestBatch, texts)
    this.options.onBatch?.({
      kind,
      callers,
      texts,
      queuedMs: started - enqueuedAt,
      runMs: performance.now() - started,
      failed,
    })
  }
}

/** Hands each job its slice of the merged result; a result of the wrong size fails them all. */
function splitBatch(merged: EmbeddingBatch, jobs: readonly Job[]): void {
  const total = jobs.reduce((sum, job) => sum + job.texts.length, 0)
  if (merged.vectors.length !== total) {
    throw new Error(`micro-batcher: the embed function returned ${merged.vectors.length} vectors for ${total} texts`)
  }
  let offset = 0
  for (const job of jobs) {
    const end = offset + job.texts.length
    job.resolve({
      vectors: merged.vectors.slice(offset, end),
      tokenCounts: merged.tokenCounts.slice(offset, end),
      truncated: merged.truncated.slice(offset, end),
    })
    offset = end
  }
}
