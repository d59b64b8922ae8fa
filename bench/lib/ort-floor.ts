/**
 * The raw onnxruntime-node floor that speed benches set Funnel against: `session.run` alone on
 * inputs tokenised, padded and packed into tensors before the clock starts. It imports
 * onnxruntime-node itself, on purpose: it must measure the runtime with no Funnel code in the way,
 * so it does not go through src/inference.
 *
 * @example
 *   const floor = await OrtFloor.open(path.join(dir, 'onnx/model.onnx'), { threads: 1 }, 'last_hidden_state')
 *   const feeds = floor.feeds(texts.map((text) => tokenizer.encode(text, 256)), 32)
 *   const seconds = await floor.time(feeds)
 */
import * as ort from 'onnxruntime-node'
import type { TokenizedText } from '../../src/inference/tokenizer.js'

export type OrtFeeds = Record<string, ort.Tensor>

export interface RuntimeOptions {
  /** Intra-op threads; 0 keeps the runtime's default. */
  threads: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /** Whether idle intra-op threads spin (onnxruntime's default) or sleep. */
  allowSpinning?: boolean
}

/** CPU session options for `options`; `allowSpinning` false matches what Funnel's OnnxSession sets. */
export function ortSessionOptions(options: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
  }
  if (options.threads > 0) sessionOptions.intraOpNumThreads = options.threads
  if (options.allowSpinning !== undefined) {
    sessionOptions.extra = { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } }
  }
  return sessionOptions
}

/** Right-padded int64 feeds for one batch, as a BERT export takes them (mask and type ids when it has those inputs). */
export function bertFeeds(batch: readonly TokenizedText[], inputNames: readonly string[]): OrtFeeds {
  const maxLen = Math.max(1, ...batch.map((b) => b.ids.length))
  const ids = new BigInt64Array(batch.length * maxLen)
  const mask = new BigInt64Array(batch.length * maxLen)
  const types = new BigInt64Array(batch.length * maxLen)
  batch.forEach((item, b) =>
    item.ids.forEach((id, t) => {
      ids[b * maxLen + t] = BigInt(id)
      mask[b * maxLen + t] = 1n
      types[b * maxLen + t] = BigInt(item.typeIds[t] ?? 0)
    }),
  )
  const dims = [batch.length, maxLen]
  const feeds: OrtFeeds = { input_ids: new ort.Tensor('int64', ids, dims) }
  if (inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, dims)
  if (inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', types, dims)
  return feeds
}

export class OrtFloor {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly outputName: string,
  ) {}

  /** `output` defaults to `logits` when the model has it, else its first output. */
  static async open(modelPath: string, options: RuntimeOptions, output?: string): Promise<OrtFloor> {
    const session = await ort.InferenceSession.create(modelPath, ortSessionOptions(options))
    return new OrtFloor(session, output ?? (session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!))
  }

  /** Feeds for `rows` in consecutive batches of `batchSize`, in the order given. */
  feeds(rows: readonly TokenizedText[], batchSize: number): OrtFeeds[] {
    const feeds: OrtFeeds[] = []
    for (let from = 0; from < rows.length; from += batchSize) feeds.push(bertFeeds(rows.slice(from, from + batchSize), this.session.inputNames))
    return feeds
  }

  /** The output tensor of one run. */
  async run(feeds: OrtFeeds): Promise<ort.Tensor> {
    return (await this.session.run(feeds, [this.outputName]))[this.outputName]!
  }

  /** Seconds for `session.run` over every feed, one after another. */
  async time(feeds: readonly OrtFeeds[]): Promise<number> {
    const began = performance.now()
    for (const feed of feeds) await this.session.run(feed, [this.outputName])
    return (performance.now() - began) / 1000
  }

  async release(): Promise<void> {
    await this.session.release()
  }
}
