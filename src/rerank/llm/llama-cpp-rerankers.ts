/** Builders for the two llama.cpp reranker kinds, from a GGUF file or a folder holding one. */
import { ListwiseReranker, type ListwiseOptions } from '../listwise/listwise-reranker.js'
import { ListwisePromptBuilder, type PromptBuilderOptions } from '../listwise/prompt.js'
import type { Reranker } from '../reranker.js'
import { GgufModel, type GgufModelOptions } from './gguf-model.js'
import { LlamaCppListwiseBackend } from './llama-cpp-listwise-backend.js'
import { PointwiseLlmReranker, type PointwiseLlmOptions } from './pointwise-llm-reranker.js'

export interface LlamaCppListwiseRerankerOptions extends ListwiseOptions, GgufModelOptions {
  /** A .gguf file, or a folder with one. */
  model: string
  /** Context to allocate (default 4096, at most the trained context); the prompt is fitted to it. */
  contextSize?: number
  prompt?: Omit<PromptBuilderOptions, 'contextLength' | 'chatTemplate'>
}

export interface PointwiseLlmRerankerOptions extends PointwiseLlmOptions, GgufModelOptions {
  model: string
}

/**
 * A FIRST listwise reranker on llama.cpp.
 *
 * @example
 *   const listwise = await loadLlamaCppListwise({ model: 'models/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF', windowSize: 20 })
 */
export async function loadLlamaCppListwise(options: LlamaCppListwiseRerankerOptions): Promise<Reranker> {
  const lm = await GgufModel.load(options.model, options)
  try {
    const backend = await LlamaCppListwiseBackend.create(lm, { ...(options.contextSize !== undefined && { contextSize: options.contextSize }) })
    const prompts = new ListwisePromptBuilder(lm.tokenizer, lm.chatTemplate, { ...options.prompt, contextLength: backend.contextSize })
    return new ListwiseReranker(backend, prompts, { ...options, name: options.name ?? `listwise:${backend.name}` })
  } catch (error) {
    await lm.dispose()
    throw error
  }
}

/**
 * A pointwise yes/no reranker on llama.cpp.
 *
 * @example
 *   const pointwise = await loadPointwiseLlm({ model: 'models/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF', parallel: 4 })
 */
export async function loadPointwiseLlm(options: PointwiseLlmRerankerOptions): Promise<Reranker> {
  const lm = await GgufModel.load(options.model, options)
  try {
    return await PointwiseLlmReranker.create(lm, options)
  } catch (error) {
    await lm.dispose()
    throw error
  }
}
