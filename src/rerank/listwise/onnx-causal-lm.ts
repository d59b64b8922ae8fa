import { OnnxSession, float32Tensor, int64Tensor, tensorToFloat32, type OnnxFeeds } from '../../inference/onnx.js'
import { TextTokenizer } from '../../inference/tokenizer.js'
import { findOnnxModel, positiveIntegerOr, readJsonIfPresent } from '../model-files.js'
import { identifierLogits, resolveIdentifierTokenIds, type IdentifierTokenIds } from './identifier-logits.js'
import type { ListwiseBackend } from './listwise-reranker.js'
import type { ListwisePrompt } from './prompt.js'

export interface OnnxCausalLmOptions {
  /** A Hugging Face causal-LM export: onnx/model.onnx (or model.onnx), tokenizer.json, config.json. */
  modelDir: string
  name?: string
  /** Reuse the prompt builder's tokenizer instead of loading it again. */
  tokenizer?: TextTokenizer
  intraOpThreads?: number
  /** Run the ONNX session on a worker thread, so a window does not block the event loop. */
  worker?: boolean
}

const pastKeyValuePattern = /^past_key_values\.\d+\.(key|value)$/
const handledInputs = new Set(['input_ids', 'attention_mask', 'position_ids'])

/**
 * Local FIRST scoring: one forward pass over the whole prompt and the logits of the last position,
 * read only at the identifier tokens. No generation loop: the first identifier is all FIRST needs.
 * Exports with a KV cache (`past_key_values.*` inputs) get empty past tensors of length 0.
 *
 * @example
 *   const lm = await OnnxCausalLmBackend.load({ modelDir: 'models/first-tiny' })
 *   const logits = await lm.identifierScores(builder.build(query, passages))
 */
export class OnnxCausalLmBackend implements ListwiseBackend {
  private constructor(
    readonly name: string,
    private readonly session: OnnxSession,
    private readonly identifierIds: IdentifierTokenIds,
    private readonly emptyPast: OnnxFeeds,
  ) {}

  static async load(options: OnnxCausalLmOptions): Promise<OnnxCausalLmBackend> {
    const [config, tokenizer, modelPath] = await Promise.all([
      readJsonIfPresent(options.modelDir, 'config.json'),
      options.tokenizer ?? TextTokenizer.fromDirectory(options.modelDir),
      findOnnxModel(options.modelDir),
    ])
    const identifierIds = resolveIdentifierTokenIds((token) => tokenizer.tokenToId(token))
    const session = await OnnxSession.open(modelPath, { intraOpThreads: options.intraOpThreads ?? 0, worker: options.worker === true })
    try {
      const unsupported = session.inputNames.filter((n) => !handledInputs.has(n) && !pastKeyValuePattern.test(n))
      if (!session.inputNames.includes('input_ids') || unsupported.length > 0) {
        throw new Error(`${modelPath}: unsupported causal-LM inputs [${session.inputNames.join(', ')}]; expected input_ids, attention_mask, position_ids, past_key_values.*`)
      }
      if (!session.outputNames.includes('logits')) throw new Error(`${modelPath}: no 'logits' output`)
      const emptyPast = emptyPastKeyValues(session, config)
      const name = options.name ?? options.modelDir.split(/[\\/]/).filter(Boolean).pop() ?? 'causal-lm'
      return new OnnxCausalLmBackend(name, session, identifierIds, emptyPast)
    } catch (error) {
      await session.dispose()
      throw error
    }
  }

  /** The full next-token logits after `ids` (vocabulary-sized). */
  async lastPositionLogits(ids: readonly number[]): Promise<Float32Array> {
    const length = ids.length
    const feeds: OnnxFeeds = { ...this.emptyPast, input_ids: int64Tensor(BigInt64Array.from(ids, BigInt), [1, length]) }
    const inputs = this.session.inputNames
    if (inputs.includes('attention_mask')) feeds.attention_mask = int64Tensor(new BigInt64Array(length).fill(1n), [1, length])
    if (inputs.includes('position_ids')) {
      feeds.position_ids = int64Tensor(BigInt64Array.from({ length }, (_, i) => BigInt(i)), [1, length])
    }
    const logits = (await this.session.run(feeds, ['logits'])).logits!
    const [, positions, vocab] = logits.dims as [number, number, number]
    // Some exports return only the last position ([1, 1, V]); take the final row either way.
    return tensorToFloat32(logits).slice((positions - 1) * vocab, positions * vocab)
  }

  async identifierScores(prompt: ListwisePrompt, signal?: AbortSignal): Promise<number[]> {
    signal?.throwIfAborted()
    return identifierLogits(await this.lastPositionLogits(prompt.ids), prompt.labels, this.identifierIds)
  }

  async dispose(): Promise<void> {
    await this.session.dispose()
  }
}

/**
 * Zero-length past key/value tensors, [1, kv_heads, 0, head_dim]. Heads and head size come from
 * the input metadata when the export fixes them, else from config.json (grouped-query models set
 * num_key_value_heads below num_attention_heads).
 */
function emptyPastKeyValues(session: OnnxSession, config: Record<string, unknown>): OnnxFeeds {
  const attentionHeads = positiveIntegerOr(config.num_attention_heads, undefined)
  const kvHeads = positiveIntegerOr(config.num_key_value_heads, attentionHeads)
  const hidden = positiveIntegerOr(config.hidden_size, undefined)
  const headDim = positiveIntegerOr(config.head_dim, hidden !== undefined && attentionHeads !== undefined ? hidden / attentionHeads : undefined)
  const feeds: OnnxFeeds = {}
  for (const name of session.inputNames.filter((n) => pastKeyValuePattern.test(n))) {
    const info = session.inputInfo(name)
    if (info?.type !== undefined && info.type !== 'float32') {
      throw new Error(`${session.path}: ${name} is ${info.type}; only float32 KV caches are supported`)
    }
    const declared = info?.shape ?? []
    const heads = typeof declared[1] === 'number' ? declared[1] : kvHeads
    const size = typeof declared[3] === 'number' ? declared[3] : headDim
    if (heads === undefined || size === undefined) {
      throw new Error(`${session.path}: cannot size ${name}; config.json lacks num_key_value_heads/num_attention_heads/hidden_size`)
    }
    feeds[name] = float32Tensor(new Float32Array(0), [1, heads, 0, size])
  }
  return feeds
}
