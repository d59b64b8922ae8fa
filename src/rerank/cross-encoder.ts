import { elapsedMs, type Candidate } from '../candidate.js'
import { LoopSlicer } from '../event-loop.js'
import { OnnxSession, int64Tensor, padToTensor, tensorToFloat32, type OnnxFeeds } from '../inference/onnx.js'
import { TextTokenizer, type TokenizedText } from '../inference/tokenizer.js'
import { findOnnxModel, modelMaxLength, positiveIntegerOr, readJsonIfPresent } from './model-files.js'
import { resolveTopN, type RankOptions, type RankOutcome, type Reranker } from './reranker.js'

export interface CrossEncoderOptions {
  /** A Hugging Face sequence-classification export: onnx/model.onnx (or model.onnx), tokenizer.json, config.json. */
  modelDir: string
  /** Name reported in timings and errors (default: the folder name). */
  name?: string
  /** Pairs per ONNX run (default 32). */
  batchSize?: number
  /** Cap on pair length in tokens; never above what the model supports. */
  maxLength?: number
  /** Batch pairs of similar length together to cut padding (default true). */
  sortByLength?: boolean
  intraOpThreads?: number
  /** Run the ONNX session on a worker thread, so scoring does not block the event loop. */
  worker?: boolean
}

export interface PairScores {
  /** One raw relevance logit per passage, in input order. */
  scores: Float32Array
  truncatedPassages: number
  /** Milliseconds spent tokenising all pairs. */
  tokenizeMs: number
  /** Milliseconds per ONNX run (padding, run, read-back), in run order. */
  batchMs: number[]
}

const defaultBatchSize = 32
const fallbackMaxLength = 512
/** Characters kept per allowed token before tokenising a long passage (English averages ~4-5). */
const prefixCharsPerToken = 8
const prefixMarginTokens = 8

/**
 * A cross-encoder reranker over an ONNX sequence-classification model. The score is a logit:
 * with one output it is that logit; with two classes it is logit[1] - logit[0], the log-odds of
 * "relevant" (sigmoid of it equals the softmax probability of class 1), so one- and two-class
 * models produce scores on the same scale.
 *
 * @example
 *   const ce = await CrossEncoderReranker.load({ modelDir: 'models/cross-encoder/ms-marco-MiniLM-L-6-v2' })
 *   const { candidates } = await ce.rank('what is bm25?', retrieved, { topN: 20 })
 *   await ce.dispose()
 */
export class CrossEncoderReranker implements Reranker {
  readonly scoreKey = 'cross_encoder' as const

  private constructor(
    readonly name: string,
    private readonly session: OnnxSession,
    private readonly tokenizer: TextTokenizer,
    readonly maxLength: number,
    private readonly padTokenId: number,
    private readonly batchSize: number,
    private readonly sortByLength: boolean,
  ) {}

  static async load(options: CrossEncoderOptions): Promise<CrossEncoderReranker> {
    const batchSize = options.batchSize ?? defaultBatchSize
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`)
    const [config, tokenizerConfig, tokenizer, modelPath] = await Promise.all([
      readJsonIfPresent(options.modelDir, 'config.json'),
      readJsonIfPresent(options.modelDir, 'tokenizer_config.json'),
      TextTokenizer.fromDirectory(options.modelDir),
      findOnnxModel(options.modelDir),
    ])
    const supported = modelMaxLength(config, tokenizerConfig) ?? fallbackMaxLength
    const maxLength = Math.min(options.maxLength ?? supported, supported)
    const session = await OnnxSession.open(modelPath, { intraOpThreads: options.intraOpThreads ?? 0, worker: options.worker === true })
    const missing = ['input_ids', 'attention_mask'].filter((n) => !session.inputNames.includes(n))
    if (missing.length > 0) {
      await session.dispose()
      throw new Error(`${modelPath}: not a sequence-classification export (missing inputs ${missing.join(', ')})`)
    }
    const name = options.name ?? options.modelDir.split(/[\\/]/).filter(Boolean).pop() ?? 'cross-encoder'
    const padTokenId = positiveIntegerOr(config.pad_token_id, 0) ?? 0
    return new CrossEncoderReranker(name, session, tokenizer, maxLength, padTokenId, batchSize, options.sortByLength ?? true)
  }

  /** Whether the onnxruntime session runs on a worker thread. */
  get onWorker(): boolean {
    return this.session.onWorker
  }

  /** Raw logits for (query, passage) pairs, in passage order. */
  async score(query: string, passages: readonly string[], signal?: AbortSignal): Promise<PairScores> {
    const tokenizeBegan = performance.now()
    // Tokenising 100 long pairs takes about a second of CPU: slice it so the event loop keeps turning.
    const slicer = new LoopSlicer()
    const pairs: TokenizedText[] = []
    for (const passage of passages) {
      pairs.push(this.encodePair(query, passage))
      await slicer.slice()
      signal?.throwIfAborted()
    }
    const tokenizeMs = elapsedMs(tokenizeBegan)
    const order = pairs.map((_, i) => i)
    if (this.sortByLength) order.sort((a, b) => pairs[a]!.ids.length - pairs[b]!.ids.length)
    const scores = new Float32Array(pairs.length)
    const batchMs: number[] = []
    for (let from = 0; from < order.length; from += this.batchSize) {
      signal?.throwIfAborted()
      const began = performance.now()
      const batch = order.slice(from, from + this.batchSize)
      const logits = await this.runBatch(batch.map((i) => pairs[i]!))
      batch.forEach((pairIndex, row) => (scores[pairIndex] = logits[row]!))
      batchMs.push(elapsedMs(began))
    }
    return { scores, truncatedPassages: pairs.filter((p) => p.truncatedTokens > 0).length, tokenizeMs, batchMs }
  }

  async rank(query: string, candidates: Candidate[], options: RankOptions = {}): Promise<RankOutcome> {
    const keep = resolveTopN(options.topN, candidates.length)
    const { scores, truncatedPassages } = await this.score(query, candidates.map((c) => c.text), options.signal)
    const scored = candidates.map((c, i) => ({ ...c, score: scores[i]!, scores: { ...c.scores, cross_encoder: scores[i]! } }))
    // Array.prototype.sort is stable, so equal logits keep the incoming (retrieval) order.
    scored.sort((a, b) => b.score - a.score)
    return { candidates: scored.slice(0, keep), truncatedPassages }
  }

  async dispose(): Promise<void> {
    await this.session.dispose()
  }

  /**
   * Tokenising a whole 2,000-word document to keep its first few hundred tokens costs more than the
   * model run for small cross-encoders, so long passages are first cut at a word boundary well past
   * what can fit. Whitespace-split tokenizers give the same leading tokens for the prefix as for the
   * whole text; when the prefix does not overflow by a clear margin, the full text is used instead.
   */
  private encodePair(query: string, passage: string): TokenizedText {
    const budget = this.maxLength * prefixCharsPerToken
    if (passage.length > budget) {
      const space = passage.lastIndexOf(' ', budget)
      const prefix = passage.slice(0, space > budget / 2 ? space : budget)
      const encoded = this.tokenizer.encodePair(query, prefix, this.maxLength)
      if (encoded.truncatedTokens >= prefixMarginTokens) return encoded
    }
    return this.tokenizer.encodePair(query, passage, this.maxLength)
  }

  private async runBatch(rows: readonly TokenizedText[]): Promise<Float32Array> {
    const { tensor: inputIds, maxLen } = padToTensor(rows.map((r) => r.ids), this.padTokenId)
    const mask = new BigInt64Array(rows.length * maxLen)
    rows.forEach((r, b) => mask.fill(1n, b * maxLen, b * maxLen + r.ids.length))
    const feeds: OnnxFeeds = { input_ids: inputIds, attention_mask: int64Tensor(mask, [rows.length, maxLen]) }
    // Feed only what the graph declares: DistilBERT/RoBERTa/ModernBERT exports have no token_type_ids.
    if (this.session.inputNames.includes('token_type_ids')) {
      feeds.token_type_ids = padToTensor(rows.map((r) => r.typeIds), 0).tensor
    }
    const outputName = this.session.outputNames.includes('logits') ? 'logits' : this.session.outputNames[0]!
    const output = (await this.session.run(feeds, [outputName]))[outputName]!
    return relevanceLogits(tensorToFloat32(output), output.dims, rows.length)
  }
}

/** Reduces [B], [B,1] or [B,2] classifier output to one relevance logit per row (see class doc). */
export function relevanceLogits(data: Float32Array, dims: readonly number[], batch: number): Float32Array {
  const classes = dims.length === 1 ? 1 : dims[dims.length - 1]!
  if (dims[0] !== batch || (classes !== 1 && classes !== 2) || data.length !== batch * classes) {
    throw new Error(`cross-encoder output has shape [${dims.join(', ')}]; expected [${batch}, 1] or [${batch}, 2]`)
  }
  if (classes === 1) return Float32Array.from(data)
  return Float32Array.from({ length: batch }, (_, b) => data[b * 2 + 1]! - data[b * 2]!)
}
