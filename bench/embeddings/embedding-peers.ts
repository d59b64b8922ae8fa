/**
 * The embedding runtimes `bench-embeddings` compares, behind one interface: raw onnxruntime-node (the
 * floor, ../lib/ort-floor.ts), Funnel's EmbeddingModel, transformers.js, and sentence-transformers in
 * a Python subprocess (st_peer.py).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import path from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { EmbeddingModel, type EmbeddingBatch, type InputKind } from '../../src/inference/embedding-model.js'
import { cutSortedBatches } from '../../src/inference/length-buckets.js'
import type { EmbedFunction } from '../../src/inference/micro-batcher.js'
import { TextTokenizer, type TokenizedText } from '../../src/inference/tokenizer.js'
import { l2Normalize } from '../../src/retrieval/vector-math.js'
import { bertFeeds, OrtFloor, ortSessionOptions, type OrtFeeds, type RuntimeOptions } from '../lib/ort-floor.js'

export type { RuntimeOptions }

export interface EmbeddingPeer {
  readonly name: string
  /** Seconds to embed `texts` in consecutive calls of `batchSize` texts, in the order given. */
  time(texts: readonly string[], batchSize: number): Promise<number>
  /** Unit vectors, for checking that peers agree. */
  embed?(texts: readonly string[]): Promise<Float32Array[]>
  close(): Promise<void>
}

const seconds = (started: number) => (performance.now() - started) / 1000

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size)
}

/**
 * The floor (an OrtFloor on the model's `last_hidden_state`): inputs tokenised, padded and packed
 * before the clock starts; only `session.run` is timed; no pooling, no normalisation.
 */
export class RawOrtPeer implements EmbeddingPeer {
  private readonly prepared = new WeakMap<readonly string[], Map<string, OrtFeeds[]>>()

  private constructor(
    readonly name: string,
    private readonly floor: OrtFloor,
    private readonly tokenizer: TextTokenizer,
    private readonly maxLength: number,
  ) {}

  static async open(name: string, modelDir: string, maxLength: number, options: RuntimeOptions): Promise<RawOrtPeer> {
    const floor = await OrtFloor.open(path.join(modelDir, 'onnx', 'model.onnx'), options, 'last_hidden_state')
    return new RawOrtPeer(name, floor, await TextTokenizer.fromDirectory(modelDir), maxLength)
  }

  tokenize(texts: readonly string[]): TokenizedText[] {
    return texts.map((text) => this.tokenizer.encode(text, this.maxLength))
  }

  /** Batches of `batchSize` in input order, or after sorting all inputs by length when `sorted`. */
  prepare(texts: readonly string[], batchSize: number, sorted = false): OrtFeeds[] {
    const byKey = this.prepared.get(texts) ?? new Map<string, OrtFeeds[]>()
    this.prepared.set(texts, byKey)
    const key = `${batchSize}:${sorted}`
    let feeds = byKey.get(key)
    if (feeds === undefined) {
      const encoded = this.tokenize(texts)
      if (sorted) encoded.sort((a, b) => a.ids.length - b.ids.length)
      feeds = this.floor.feeds(encoded, batchSize)
      byKey.set(key, feeds)
    }
    return feeds
  }

  async time(texts: readonly string[], batchSize: number, sorted = false): Promise<number> {
    return this.floor.time(this.prepare(texts, batchSize, sorted))
  }

  /**
   * EmbeddingModel.embed rebuilt on this session with one change, the cut rule: runs end every
   * `maxBatch` inputs or where padding would pass `maxPaddingRatio` (see length-buckets.ts).
   * Tokenisation, sorting, packing, mean pooling and normalisation are done and timed as Funnel does;
   * with `maxPaddingRatio` Infinity it is Funnel's current path.
   */
  embedFunction(maxBatch: number, maxPaddingRatio: number): EmbedFunction {
    return async (texts: readonly string[], _kind?: InputKind): Promise<EmbeddingBatch> => {
      const encoded = this.tokenize(texts)
      const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.ids.length - encoded[b]!.ids.length)
      const vectors = new Array<Float32Array>(texts.length)
      for (const [start, end] of cutSortedBatches(order.map((i) => encoded[i]!.ids.length), maxBatch, maxPaddingRatio)) {
        const slice = order.slice(start, end)
        const batch = slice.map((i) => encoded[i]!)
        const output = await this.floor.run(bertFeeds(batch, this.floor.session.inputNames))
        const [, width, hidden] = output.dims as [number, number, number]
        const data = output.data as Float32Array
        slice.forEach((inputIndex, b) => (vectors[inputIndex] = meanPool(data, b * width * hidden, batch[b]!.ids.length, hidden)))
      }
      return { vectors, tokenCounts: encoded.map((e) => e.ids.length), truncated: encoded.map((e) => e.truncatedTokens > 0) }
    }
  }

  /** Vectors from the emulated Funnel path, to check the emulation against Funnel itself. */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return (await this.embedFunction(32, Infinity)(texts)).vectors
  }

  async close(): Promise<void> {
    await this.floor.release()
  }
}

function meanPool(data: Float32Array, base: number, length: number, hidden: number): Float32Array {
  const pooled = new Float32Array(hidden)
  for (let t = 0; t < length; t++) for (let h = 0; h < hidden; h++) pooled[h]! += data[base + t * hidden + h]!
  for (let h = 0; h < hidden; h++) pooled[h] = pooled[h]! / Math.max(length, 1)
  return l2Normalize(pooled)
}

/** Funnel's own path: tokenise, length-sort, pad, run, mean-pool, normalise. */
export class FunnelPeer implements EmbeddingPeer {
  private constructor(
    readonly name: string,
    readonly model: EmbeddingModel,
  ) {}

  static async open(name: string, modelDir: string, id: string, options: RuntimeOptions): Promise<FunnelPeer> {
    const model = await EmbeddingModel.load(modelDir, {
      id,
      batchSize: 32,
      session: { intraOpThreads: options.threads, graphOptimizationLevel: options.graphOptimizationLevel ?? 'all' },
    })
    return new FunnelPeer(name, model)
  }

  async time(texts: readonly string[], batchSize: number): Promise<number> {
    const started = performance.now()
    for (const batch of chunks(texts, batchSize)) await this.model.embed(batch, 'document')
    return seconds(started)
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return (await this.model.embed(texts, 'document')).vectors
  }

  async close(): Promise<void> {
    await this.model.dispose()
  }
}

interface FeatureExtractor {
  (texts: string[], options: { pooling: 'mean'; normalize: boolean }): Promise<{ data: Float32Array; dims: number[] }>
  tokenizer: object
  dispose(): Promise<void>
}

/**
 * transformers.js' feature-extraction pipeline on the same ONNX file (`onnx/model.onnx`, loaded as
 * dtype fp32 whatever its weights are), offline, mean pooling and normalisation.
 */
export class TransformersJsPeer implements EmbeddingPeer {
  private constructor(
    readonly name: string,
    private readonly extractor: FeatureExtractor,
  ) {}

  static async open(name: string, modelsDir: string, id: string, maxLength: number, options: RuntimeOptions): Promise<TransformersJsPeer> {
    const { pipeline, env } = await import('@huggingface/transformers')
    env.allowRemoteModels = false
    env.allowLocalModels = true
    env.localModelPath = path.resolve(modelsDir) + path.sep
    const sessionOptions = ortSessionOptions(options)
    const extractor = (await pipeline('feature-extraction', id, {
      dtype: 'fp32',
      device: 'cpu',
      session_options: sessionOptions,
    })) as unknown as FeatureExtractor
    // tokenizer_config.json says 512; the model card (sentence_bert_config.json) and Funnel say 256.
    // model_max_length is a getter on the prototype, so an own property shadows it.
    Object.defineProperty(extractor.tokenizer, 'model_max_length', { value: maxLength })
    return new TransformersJsPeer(name, extractor)
  }

  async time(texts: readonly string[], batchSize: number): Promise<number> {
    const started = performance.now()
    for (const batch of chunks(texts, batchSize)) await this.extractor(batch, { pooling: 'mean', normalize: true })
    return seconds(started)
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out = await this.extractor([...texts], { pooling: 'mean', normalize: true })
    const dims = out.dims[1]!
    return texts.map((_, i) => Float32Array.from(out.data.subarray(i * dims, (i + 1) * dims)))
  }

  async close(): Promise<void> {
    await this.extractor.dispose()
  }
}

export interface SentenceTransformersInfo {
  sentence_transformers: string
  torch: string
  threads: number
  max_seq_length: number
}

/** sentence-transformers (PyTorch) in a long-lived `st_peer.py --serve` subprocess (beside this file). */
export class SentenceTransformersPeer implements EmbeddingPeer {
  private readonly pending: ((line: string) => void)[] = []

  private constructor(
    readonly name: string,
    readonly info: SentenceTransformersInfo,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: Interface,
  ) {
    lines.on('line', (line) => this.pending.shift()?.(line))
  }

  static async open(name: string, options: { python: string; script: string; modelDir: string; weights: string; threads: number }): Promise<SentenceTransformersPeer> {
    const args = [options.script, '--serve', '--model-dir', options.modelDir, '--weights', options.weights, '--threads', String(options.threads)]
    const child = spawn(options.python, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const stderr: string[] = []
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
    const lines = createInterface({ input: child.stdout })
    const ready = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve)
      child.once('exit', (code) => reject(new Error(`${options.python} ${args.join(' ')} exited with ${code}: ${stderr.join('').slice(-2000)}`)))
    })
    return new SentenceTransformersPeer(name, JSON.parse(ready) as SentenceTransformersInfo, child, lines)
  }

  private request<T>(body: object): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push((line) => {
        const answer = JSON.parse(line) as T & { error?: string }
        if (answer.error !== undefined) reject(new Error(`st_peer: ${answer.error}`))
        else resolve(answer)
      })
      this.child.stdin.write(JSON.stringify(body) + '\n')
    })
  }

  async time(texts: readonly string[], batchSize: number): Promise<number> {
    return (await this.request<{ seconds: number }>({ op: 'time', texts, batch_size: batchSize })).seconds
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const { vectors } = await this.request<{ vectors: number[][] }>({ op: 'embed', texts })
    return vectors.map((v) => Float32Array.from(v))
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.stdin.end(JSON.stringify({ op: 'quit' }) + '\n')
    await exited
    this.lines.close()
  }
}
