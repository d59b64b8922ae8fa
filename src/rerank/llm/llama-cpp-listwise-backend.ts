import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp'
import { identifierLabels, maxIdentifiers } from '../listwise/identifier-logits.js'
import type { ListwiseBackend } from '../listwise/listwise-reranker.js'
import type { ListwisePrompt } from '../listwise/prompt.js'
import { logProbabilityOf, type GgufModel } from './gguf-model.js'

export interface LlamaCppListwiseOptions {
  name?: string
  /** Tokens of context to allocate; the prompt builder is given the same limit (default 4096, at most the trained context). */
  contextSize?: number
}

/**
 * FIRST scoring with llama.cpp: one evaluation of the window prompt, then the next-token
 * probabilities of the passage identifiers ('A', ' A', ...), returned as log-probabilities.
 * Consecutive windows share the prompt head (system turn, instructions, query), whose KV cache is
 * kept, so each window evaluates only the tokens after the common prefix. The backend owns the
 * model and releases it on dispose.
 *
 * @example
 *   const lm = await GgufModel.load('models/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF')
 *   const backend = await LlamaCppListwiseBackend.create(lm)
 *   const logprobs = await backend.identifierScores(builder.build(query, passages))
 */
export class LlamaCppListwiseBackend implements ListwiseBackend {
  /** Serialises windows: the single sequence holds one window's tokens at a time. */
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly name: string,
    readonly contextSize: number,
    private readonly lm: GgufModel,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    private readonly identifierIds: ReadonlyMap<string, readonly number[]>,
  ) {}

  static async create(lm: GgufModel, options: LlamaCppListwiseOptions = {}): Promise<LlamaCppListwiseBackend> {
    const contextSize = Math.min(options.contextSize ?? 4096, lm.trainContextSize)
    const identifierIds = new Map<string, number[]>()
    for (const label of identifierLabels(maxIdentifiers)) {
      const ids = lm.singleTokenIds([label, ` ${label}`])
      if (ids.length === 0) throw new Error(`${lm.path}: identifier '${label}' is not a single token`)
      identifierIds.set(label, ids)
    }
    const context = await lm.createContext({ contextSize, sequences: 1 })
    const name = options.name ?? lm.path.split(/[\\/]/).pop()!.replace(/\.gguf$/i, '')
    return new LlamaCppListwiseBackend(name, contextSize, lm, context, context.getSequence(), identifierIds)
  }

  identifierScores(prompt: ListwisePrompt, signal?: AbortSignal): Promise<number[]> {
    const run = this.queue.then(async () => {
      signal?.throwIfAborted()
      if (prompt.ids.length >= this.contextSize) {
        throw new Error(`listwise prompt of ${prompt.ids.length} tokens does not fit the ${this.contextSize}-token context`)
      }
      const probabilities = await this.lm.nextTokenProbabilities(this.sequence, prompt.ids)
      return prompt.labels.map((label) => logProbabilityOf(probabilities, this.identifierIds.get(label)!))
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  async dispose(): Promise<void> {
    await this.queue
    await this.context.dispose()
    await this.lm.dispose()
  }
}
