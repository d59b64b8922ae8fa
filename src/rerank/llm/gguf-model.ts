/**
 * The only module that touches node-llama-cpp: opening a GGUF file with llama.cpp's prebuilt CPU
 * binaries, its tokenizer and chat template (both read from the GGUF itself), and next-token
 * probabilities after a prompt. The listwise and pointwise LLM stages build on this.
 */
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp'
import { ChatTemplate, type PromptTokenizer } from '../listwise/prompt.js'
import { checkGgufHeader, findGgufFile } from './gguf-file.js'

let llamaRuntime: Promise<Llama> | undefined

/**
 * The process-wide llama.cpp runtime: CPU only, never built or downloaded at run time (the prebuilt
 * binaries come with the @node-llama-cpp/<platform> npm package), errors logged only.
 */
export function cpuLlama(): Promise<Llama> {
  llamaRuntime ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false }).catch((error: unknown) => {
    llamaRuntime = undefined
    throw error
  })
  return llamaRuntime
}

export interface GgufModelOptions {
  /** CPU threads for llama.cpp (default: the runtime's math cores). */
  threads?: number
  /** A Jinja chat template overriding the one in the GGUF metadata. */
  chatTemplate?: string
}

/**
 * A GGUF causal LM opened with llama.cpp.
 *
 * @example
 *   const lm = await GgufModel.load('models/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF')
 *   const context = await lm.createContext({ contextSize: 4096, sequences: 1 })
 *   const next = await lm.nextTokenProbabilities(context.getSequence(), lm.tokenizer.encode(prompt))
 */
export class GgufModel {
  readonly tokenizer: PromptTokenizer

  private constructor(
    readonly path: string,
    readonly model: LlamaModel,
    readonly chatTemplate: ChatTemplate,
    readonly threads: number,
  ) {
    this.tokenizer = {
      // Special tokens are parsed so the template's <|im_start|> etc. become control tokens; the
      // prompt builders neutralise such text inside passages before it gets here.
      encode: (text) => model.tokenize(text, true) as number[],
      decode: (ids) => model.detokenize(ids as Token[], false),
    }
  }

  static async load(fileOrDir: string, options: GgufModelOptions = {}): Promise<GgufModel> {
    const file = await findGgufFile(fileOrDir)
    await checkGgufHeader(file)
    const llama = await cpuLlama()
    let model: LlamaModel
    try {
      model = await llama.loadModel({ modelPath: file, gpuLayers: 0 })
    } catch (error) {
      throw new Error(`${file}: llama.cpp could not load the GGUF model: ${(error as Error).message}`)
    }
    try {
      const metadata = model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }
      const source = options.chatTemplate ?? metadata.tokenizer?.chat_template
      if (typeof source !== 'string') throw new Error(`${file}: no tokenizer.chat_template in the GGUF metadata; pass chatTemplate`)
      const special: Record<string, string> = {}
      if (model.tokens.bosString !== null) special.bos_token = model.tokens.bosString
      if (model.tokens.eosString !== null) special.eos_token = model.tokens.eosString
      const threads = options.threads ?? llama.cpuMathCores
      return new GgufModel(file, model, new ChatTemplate(source, special), threads)
    } catch (error) {
      await model.dispose()
      throw error
    }
  }

  /** The context the model was trained with (its position limit). */
  get trainContextSize(): number {
    return this.model.trainContextSize
  }

  /** Token ids for each spelling; a spelling that is not a single token is skipped. */
  singleTokenIds(spellings: readonly string[]): number[] {
    const ids = spellings.map((s) => this.model.tokenize(s, false)).filter((t) => t.length === 1).map((t) => t[0] as number)
    return [...new Set(ids)]
  }

  createContext(options: { contextSize: number; sequences: number; batchSize?: number }): Promise<LlamaContext> {
    return this.model.createContext({
      contextSize: options.contextSize,
      sequences: options.sequences,
      batchSize: options.batchSize ?? Math.min(options.contextSize, 512),
      threads: this.threads,
      flashAttention: false,
    })
  }

  /**
   * Evaluates `ids` on the sequence and returns the next-token probability of every vocabulary entry.
   * Tokens the sequence already holds as a prefix are kept (their KV cache is reused); the rest of
   * the sequence is erased first, so one sequence serves window after window.
   */
  async nextTokenProbabilities(sequence: LlamaContextSequence, ids: readonly number[]): Promise<Map<number, number>> {
    if (ids.length === 0) throw new Error('cannot score an empty prompt')
    const held = sequence.contextTokens
    let common = 0
    while (common < held.length && common < ids.length - 1 && held[common] === ids[common]) common++
    if (common < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start: common, end: sequence.nextTokenIndex }])
    const rest = ids.slice(common) as Token[]
    const input = rest.map((token, i) => (i === rest.length - 1 ? ([token, { generateNext: { probabilities: true } }] as const) : token))
    const out = await sequence.controlledEvaluate(input as Parameters<LlamaContextSequence['controlledEvaluate']>[0])
    const probabilities = out[rest.length - 1]?.next.probabilities
    if (probabilities === undefined) throw new Error('llama.cpp returned no next-token probabilities')
    return probabilities as Map<number, number>
  }

  async dispose(): Promise<void> {
    await this.model.dispose()
  }
}

/** log of the summed probability of the given token ids (spellings of one answer); -Infinity when all are 0. */
export function logProbabilityOf(probabilities: ReadonlyMap<number, number>, ids: readonly number[]): number {
  let sum = 0
  for (const id of ids) sum += probabilities.get(id) ?? 0
  return Math.log(sum)
}
