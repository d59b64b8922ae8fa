import { access, readFile } from 'node:fs/promises'
import path from 'node:path'
import { OnnxSession, padToTensor, tensorToFloat32, type OnnxFeeds, type SessionOptions } from './onnx.js'
import { TextTokenizer, type TokenizedText } from './tokenizer.js'
import { TokenizerWorker } from './tokenizer-worker.js'
import { l2Normalize } from '../retrieval/vector-math.js'
import { cutSortedBatches } from './length-buckets.js'
import { LoopSlicer } from '../event-loop.js'
import type { TokenPooling } from './token-pooling.js'

/** Token pooling done after the session run, or `in-graph` when the graph outputs sentence vectors. */
export type Pooling = TokenPooling | 'in-graph'
export type InputKind = 'query' | 'document'

/** Facts about a model that its folder may not state; the models manifest supplies them. */
export interface EmbeddingModelOptions {
  id: string
  maxLength?: number
  pooling?: Pooling
  normalize?: boolean
  /** Text put before each query / document; default: the folder's sentence-transformers prompts, if any. */
  prefixes?: { query: string; document: string }
  matryoshkaDims?: number[]
  batchSize?: number
  /**
   * A run is cut early when its padded tokens would exceed this multiple of its real tokens
   * (default 1.2; Infinity cuts every `batchSize` inputs only). On CPU an encoder's cost follows the
   * padded tokens, so near-rectangular runs beat full ones (docs/benchmarks/embedding-throughput.md §4).
   */
  maxPaddingRatio?: number
  session?: SessionOptions
  /** Called after every ONNX run with its wall time and batch size (metrics). */
  onRun?: (ms: number, batchSize: number) => void
}

/**
 * Texts of at least this many characters in one `embed` call are tokenised on the tokenizer worker
 * (when the session runs on a worker thread); smaller calls, such as one query, stay on the calling
 * thread, where they cost less than the round trip.
 */
export const TOKENIZE_ON_WORKER_CHARS = 16_384

export interface EmbeddingBatch {
  vectors: Float32Array[]
  /** Tokens fed to the model per input, after truncation. */
  tokenCounts: number[]
  /** Whether each input was cut to the model's maximum length. */
  truncated: boolean[]
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  )

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  if (!(await exists(file))) return undefined
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
}

async function findOnnxFile(dir: string): Promise<string> {
  for (const candidate of ['onnx/model.onnx', 'model.onnx']) {
    const file = path.join(dir, candidate)
    if (await exists(file)) return file
  }
  throw new Error(`no ONNX model in ${dir} (looked for onnx/model.onnx and model.onnx)`)
}

/** Reads pooling from sentence-transformers' 1_Pooling/config.json. */
async function readPooling(dir: string): Promise<Pooling | undefined> {
  const config = await readJson(path.join(dir, '1_Pooling', 'config.json'))
  if (config === undefined) return undefined
  if (config.pooling_mode_cls_token === true) return 'cls'
  if (config.pooling_mode_mean_tokens === true) return 'mean'
  throw new Error(`${dir}/1_Pooling/config.json: only mean and CLS pooling are supported`)
}

/**
 * The query/document prompts a sentence-transformers folder declares in config_sentence_transformers.json
 * (`prompts.query` / `prompts.document`, e.g. EmbeddingGemma's `task: search result | query: ` and
 * `title: none | text: `); undefined when it declares neither. The manifest's `prefixes` take precedence.
 */
export async function readPrompts(dir: string): Promise<{ query: string; document: string } | undefined> {
  const config = await readJson(path.join(dir, 'config_sentence_transformers.json'))
  const prompts = config?.prompts
  if (typeof prompts !== 'object' || prompts === null) return undefined
  const { query, document } = prompts as Record<string, unknown>
  if (typeof query !== 'string' && typeof document !== 'string') return undefined
  return { query: typeof query === 'string' ? query : '', document: typeof document === 'string' ? document : '' }
}

async function readMaxLength(dir: string): Promise<number | undefined> {
  const st = await readJson(path.join(dir, 'sentence_bert_config.json'))
  if (typeof st?.max_seq_length === 'number') return st.max_seq_length
  const config = await readJson(path.join(dir, 'config.json'))
  if (typeof config?.max_position_embeddings === 'number') return config.max_position_embeddings
  return undefined
}

/**
 * A Hugging Face ONNX encoder export (or Funnel's static model) that turns texts into unit vectors.
 * Inputs are length-sorted and batched so padding stays small; pooling follows the model's own config.
 *
 * @example
 *   const model = await EmbeddingModel.load('models/sentence-transformers/all-MiniLM-L6-v2', { id: 'minilm' })
 *   const { vectors } = await model.embed(['hello world'], 'query')
 *   await model.dispose()
 */
export class EmbeddingModel {
  private constructor(
    readonly id: string,
    readonly dims: number,
    readonly maxLength: number,
    readonly pooling: Pooling,
    readonly matryoshkaDims: readonly number[],
    private readonly session: OnnxSession,
    private readonly tokenizer: TextTokenizer,
    private readonly options: EmbeddingModelOptions,
    private readonly outputName: string,
    /** Tokenises large calls off the calling thread; present when the session runs on a worker. */
    private readonly tokenizerWorker?: TokenizerWorker,
  ) {}

  static async load(dir: string, loadOptions: EmbeddingModelOptions): Promise<EmbeddingModel> {
    const prompts = loadOptions.prefixes ?? (await readPrompts(dir))
    const options: EmbeddingModelOptions = { ...loadOptions, ...(prompts !== undefined && { prefixes: prompts }) }
    const onnxFile = await findOnnxFile(dir)
    const tokenizer = await TextTokenizer.fromDirectory(dir)
    const session = await OnnxSession.open(onnxFile, options.session)
    let tokenizerWorker: TokenizerWorker | undefined
    try {
      if (session.onWorker) tokenizerWorker = await TokenizerWorker.start(dir)
      const inGraph = session.outputNames.includes('sentence_embedding')
      const pooling: Pooling = inGraph ? 'in-graph' : (options.pooling ?? (await readPooling(dir)) ?? 'mean')
      const outputName = inGraph
        ? 'sentence_embedding'
        : session.outputNames.includes('last_hidden_state')
          ? 'last_hidden_state'
          : session.outputNames[0]!
      const maxLength = options.maxLength ?? (await readMaxLength(dir)) ?? 512
      const partial = new EmbeddingModel(options.id, 0, maxLength, pooling, [], session, tokenizer, options, outputName)
      const probe = await partial.runBatch([tokenizer.encode('dimension probe', maxLength)])
      const dims = probe[0]!.length
      return new EmbeddingModel(options.id, dims, maxLength, pooling, options.matryoshkaDims ?? [], session, tokenizer, options, outputName, tokenizerWorker)
    } catch (error) {
      await tokenizerWorker?.close()
      await session.dispose()
      throw error
    }
  }

  /**
   * Embeds texts in length-sorted batches, cut where padding would grow past `maxPaddingRatio`;
   * vectors come back in input order.
   */
  /** Whether the onnxruntime session runs on a worker thread. */
  get onWorker(): boolean {
    return this.session.onWorker
  }

  async embed(texts: readonly string[], kind: InputKind = 'document'): Promise<EmbeddingBatch> {
    const prefix = this.options.prefixes?.[kind] ?? ''
    const slicer = new LoopSlicer()
    const encoded = await this.tokenize(texts.map((text) => prefix + text), slicer)
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.ids.length - encoded[b]!.ids.length)
    const vectors = new Array<Float32Array>(texts.length)
    const lengths = order.map((i) => encoded[i]!.ids.length)
    for (const [start, end] of cutSortedBatches(lengths, this.options.batchSize ?? 32, this.options.maxPaddingRatio ?? 1.2)) {
      const slice = order.slice(start, end)
      const out = await this.runBatch(slice.map((i) => encoded[i]!))
      await slicer.slice()
      slice.forEach((inputIndex, j) => (vectors[inputIndex] = out[j]!))
    }
    return {
      vectors,
      tokenCounts: encoded.map((e) => e.ids.length),
      truncated: encoded.map((e) => e.truncatedTokens > 0),
    }
  }

  /**
   * Tokenising runs in JS (WordPiece/BPE): a 1,000-document batch took seconds. Large calls go to the
   * tokenizer worker; otherwise it is sliced so the event loop keeps turning between texts.
   */
  private async tokenize(texts: readonly string[], slicer: LoopSlicer): Promise<TokenizedText[]> {
    let chars = 0
    for (const text of texts) chars += text.length
    if (this.tokenizerWorker !== undefined && chars >= TOKENIZE_ON_WORKER_CHARS) return this.tokenizerWorker.encodeMany(texts, this.maxLength)
    const encoded: TokenizedText[] = []
    for (const text of texts) {
      encoded.push(this.tokenizer.encode(text, this.maxLength))
      await slicer.slice()
    }
    return encoded
  }

  /** Texts tokenised on the tokenizer worker so far (0 when the model has none). */
  get textsTokenizedOnWorker(): number {
    return this.tokenizerWorker?.encodedTexts ?? 0
  }

  private async runBatch(batch: readonly TokenizedText[]): Promise<Float32Array[]> {
    const { tensor: inputIds } = padToTensor(batch.map((b) => b.ids))
    const feeds: OnnxFeeds = { input_ids: inputIds }
    const mask = padToTensor(batch.map((b) => b.ids.map(() => 1))).tensor
    if (this.session.inputNames.includes('attention_mask')) feeds.attention_mask = mask
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = padToTensor(batch.map((b) => b.typeIds)).tensor
    const started = performance.now()
    // Token states are pooled where the session runs (on its worker, when it has one): only [batch, hidden] comes back.
    const pool = this.pooling === 'in-graph' ? undefined : { output: this.outputName, mode: this.pooling, lengths: batch.map((b) => b.ids.length) }
    const output = (await this.session.run(feeds, [this.outputName], pool))[this.outputName]!
    this.options.onRun?.(performance.now() - started, batch.length)
    const data = tensorToFloat32(output)
    const normalize = this.options.normalize ?? true
    const dims = output.dims[1]!
    return batch.map((_, b) => maybeNormalize(Float32Array.from(data.subarray(b * dims, (b + 1) * dims)), normalize))
  }

  async dispose(): Promise<void> {
    try {
      await this.tokenizerWorker?.close()
    } finally {
      await this.session.dispose()
    }
  }
}

const maybeNormalize = (vector: Float32Array, normalize: boolean) => (normalize ? l2Normalize(vector) : vector)
