import { errors } from '../errors.js'
import { CrossEncoderReranker, type CrossEncoderOptions } from './cross-encoder.js'
import { EmbeddingReranker, type EmbeddingRerankerOptions } from './embedding-reranker.js'
import { ListwiseReranker, type ListwiseOptions } from './listwise/listwise-reranker.js'
import { OnnxCausalLmBackend } from './listwise/onnx-causal-lm.js'
import { ListwisePromptBuilder, type PromptBuilderOptions } from './listwise/prompt.js'
import { RemoteListwiseBackend, type RemoteBackendOptions } from './listwise/remote-backend.js'
import {
  loadLlamaCppListwise,
  loadPointwiseLlm,
  type LlamaCppListwiseRerankerOptions,
  type PointwiseLlmRerankerOptions,
} from './llm/llama-cpp-rerankers.js'
import type { Reranker } from './reranker.js'

export interface OnnxListwiseOptions extends ListwiseOptions {
  /** A causal-LM export with a chat template in tokenizer_config.json. */
  modelDir: string
  prompt?: PromptBuilderOptions
  intraOpThreads?: number
  worker?: boolean
}

export interface RemoteListwiseOptions extends ListwiseOptions {
  /** Where the served model's tokenizer.json / tokenizer_config.json / config.json live (for the prompt). */
  tokenizerDir: string
  server: RemoteBackendOptions
  prompt?: PromptBuilderOptions
}

/** Options each reranker kind is built from. */
export interface RerankerFactoryOptions {
  'cross-encoder': CrossEncoderOptions
  /** A bi-encoder rescoring candidates by cosine (a bigger embedder late in the cascade). */
  embedding: EmbeddingRerankerOptions
  'listwise-onnx': OnnxListwiseOptions
  /** FIRST listwise on a GGUF causal LM through llama.cpp. */
  'listwise-llama-cpp': LlamaCppListwiseRerankerOptions
  'listwise-remote': RemoteListwiseOptions
  /** P(yes) vs P(no) per passage on a GGUF chat model through llama.cpp. */
  'pointwise-llama-cpp': PointwiseLlmRerankerOptions
}

export type RerankerKind = keyof RerankerFactoryOptions

type Factories = { readonly [K in RerankerKind]: (options: RerankerFactoryOptions[K]) => Promise<Reranker> }

async function loadOnnxListwise(options: OnnxListwiseOptions): Promise<Reranker> {
  const prompts = await ListwisePromptBuilder.fromDirectory(options.modelDir, options.prompt)
  const backend = await OnnxCausalLmBackend.load({
    modelDir: options.modelDir,
    ...(options.intraOpThreads !== undefined && { intraOpThreads: options.intraOpThreads }),
    ...(options.worker !== undefined && { worker: options.worker }),
  })
  return new ListwiseReranker(backend, prompts, options)
}

async function createRemoteListwise(options: RemoteListwiseOptions): Promise<Reranker> {
  const prompts = await ListwisePromptBuilder.fromDirectory(options.tokenizerDir, options.prompt)
  return new ListwiseReranker(new RemoteListwiseBackend(options.server), prompts, options)
}

/** Reranker kinds and how to build each; frozen so no module can swap an implementation at runtime. */
export const rerankerFactories: Factories = Object.freeze({
  'cross-encoder': (options: CrossEncoderOptions) => CrossEncoderReranker.load(options),
  embedding: (options: EmbeddingRerankerOptions) => EmbeddingReranker.load(options),
  'listwise-onnx': loadOnnxListwise,
  'listwise-llama-cpp': loadLlamaCppListwise,
  'listwise-remote': createRemoteListwise,
  'pointwise-llama-cpp': loadPointwiseLlm,
})

export const rerankerKinds: readonly RerankerKind[] = Object.freeze(Object.keys(rerankerFactories) as RerankerKind[])

/** Narrows a configured or requested name to a kind; an unknown one is a 400 listing the kinds. */
export function rerankerKind(name: string): RerankerKind {
  if (!(rerankerKinds as readonly string[]).includes(name)) throw errors.unknownReranker(name, rerankerKinds)
  return name as RerankerKind
}

/**
 * Builds a reranker of the given kind.
 *
 * @example
 *   const ce = await createReranker('cross-encoder', { modelDir: 'models/cross-encoder/ms-marco-MiniLM-L-6-v2' })
 */
export async function createReranker<K extends RerankerKind>(kind: K, options: RerankerFactoryOptions[K]): Promise<Reranker> {
  const factory = rerankerFactories[rerankerKind(kind)] as (options: RerankerFactoryOptions[K]) => Promise<Reranker>
  return factory(options)
}

/**
 * The rerankers a running service has loaded, by name. Lookup of a name that was not loaded
 * throws `unknown_reranker` listing the loaded names.
 *
 * @example
 *   const loaded = new LoadedRerankers([ce, listwise])
 *   loaded.get('ms-marco-MiniLM-L-6-v2').rank(query, candidates)
 */
export class LoadedRerankers {
  private readonly byName = new Map<string, Reranker>()

  constructor(rerankers: readonly Reranker[] = []) {
    for (const reranker of rerankers) this.add(reranker)
  }

  add(reranker: Reranker): void {
    if (this.byName.has(reranker.name)) throw new Error(`a reranker named '${reranker.name}' is already loaded`)
    this.byName.set(reranker.name, reranker)
  }

  get names(): string[] {
    return [...this.byName.keys()]
  }

  get(name: string): Reranker {
    const found = this.byName.get(name)
    if (found === undefined) throw errors.unknownReranker(name, this.names)
    return found
  }

  async dispose(): Promise<void> {
    const all = [...this.byName.values()]
    this.byName.clear()
    await Promise.all(all.map((r) => r.dispose()))
  }
}
