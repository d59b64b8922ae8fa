import type { LlamaContext } from 'node-llama-cpp'
import type { Candidate } from '../../candidate.js'
import { elapsedMs } from '../../candidate.js'
import { resolveTopN, type RankOptions, type RankOutcome, type Reranker } from '../reranker.js'
import { logProbabilityOf, type GgufModel } from './gguf-model.js'
import { noSpellings, pointwiseMessages, yesSpellings } from './pointwise-prompt.js'

export interface PointwiseLlmOptions {
  name?: string
  /** Passages evaluated at once, each on its own context sequence (default 4). */
  parallel?: number
  /** Passage cap in tokens (default 256). */
  maxPassageTokens?: number
  /** Query cap in tokens (default 64). */
  maxQueryTokens?: number
}

/** What one passage's evaluation gave: log P(yes) - log P(no) over the answer's first token. */
export interface PointwiseJudgement {
  logOdds: number
  truncated: boolean
  ms: number
}

/**
 * monoT5-style pointwise reranking with a chat LLM: for each passage, P("yes") against P("no") as the
 * first answer token to "is this passage relevant to the query?". The score is the log-odds
 * log P(yes) - log P(no), so sigmoid(score) is P(yes | yes or no), the same reading as a
 * cross-encoder logit; it is written to the cross_encoder slot (the pointwise-relevance family).
 * Passages run as parallel sequences of one llama.cpp context, which batches their tokens together.
 *
 * @example
 *   const judge = await PointwiseLlmReranker.create(await GgufModel.load(dir), { parallel: 4 })
 *   const { candidates } = await judge.rank('what is bm25?', top20, { topN: 10 })
 */
export class PointwiseLlmReranker implements Reranker {
  readonly scoreKey = 'cross_encoder' as const
  /** Serialises calls: each call spreads its passages over all of the context's sequences. */
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly name: string,
    private readonly lm: GgufModel,
    private readonly context: LlamaContext,
    private readonly perSequence: number,
    private readonly yesIds: number[],
    private readonly noIds: number[],
    private readonly options: PointwiseLlmOptions,
  ) {}

  static async create(lm: GgufModel, options: PointwiseLlmOptions = {}): Promise<PointwiseLlmReranker> {
    const parallel = options.parallel ?? 4
    if (!Number.isInteger(parallel) || parallel < 1) throw new RangeError(`parallel must be a positive integer, got ${parallel}`)
    const yesIds = lm.singleTokenIds(yesSpellings)
    const noIds = lm.singleTokenIds(noSpellings)
    if (yesIds.length === 0 || noIds.length === 0) throw new Error(`${lm.path}: 'yes' or 'no' is not a single token`)
    const overhead = lm.tokenizer.encode(lm.chatTemplate.render(pointwiseMessages('', ''))).length
    const perSequence = Math.min(lm.trainContextSize, overhead + (options.maxQueryTokens ?? 64) + (options.maxPassageTokens ?? 256) + 64)
    const context = await lm.createContext({ contextSize: perSequence * parallel, sequences: parallel })
    const name = options.name ?? `pointwise:${lm.path.split(/[\\/]/).pop()!.replace(/\.gguf$/i, '')}`
    return new PointwiseLlmReranker(name, lm, context, perSequence, yesIds, noIds, options)
  }

  /** The prompt's token ids for one (query, passage), with the passage cut to its token cap. */
  promptIds(query: string, passage: string): { ids: number[]; truncated: boolean } {
    const tokenizer = this.lm.tokenizer
    const cut = (text: string, cap: number): [string, boolean] => {
      const ids = tokenizer.encode(text.length > cap * 12 ? text.slice(0, cap * 12) : text)
      return ids.length <= cap && text.length <= cap * 12 ? [text, false] : [tokenizer.decode(ids.slice(0, cap)), true]
    }
    const [q] = cut(query, this.options.maxQueryTokens ?? 64)
    const [p, truncated] = cut(passage, this.options.maxPassageTokens ?? 256)
    const ids = tokenizer.encode(this.lm.chatTemplate.render(pointwiseMessages(q, p)))
    if (ids.length >= this.perSequence) throw new Error(`pointwise prompt of ${ids.length} tokens exceeds the ${this.perSequence}-token sequence`)
    return { ids, truncated }
  }

  /** Judges every passage, `parallel` at a time; results in passage order. */
  judge(query: string, passages: readonly string[], signal?: AbortSignal): Promise<PointwiseJudgement[]> {
    const run = this.queue.then(() => this.judgeNow(query, passages, signal))
    this.queue = run.catch(() => undefined)
    return run
  }

  private async judgeNow(query: string, passages: readonly string[], signal?: AbortSignal): Promise<PointwiseJudgement[]> {
    const results: PointwiseJudgement[] = new Array(passages.length)
    let next = 0
    const worker = async () => {
      const sequence = this.context.getSequence()
      try {
        while (next < passages.length) {
          signal?.throwIfAborted()
          const index = next++
          const began = performance.now()
          const { ids, truncated } = this.promptIds(query, passages[index]!)
          const probabilities = await this.lm.nextTokenProbabilities(sequence, ids)
          const logOdds = logProbabilityOf(probabilities, this.yesIds) - logProbabilityOf(probabilities, this.noIds)
          results[index] = { logOdds, truncated, ms: elapsedMs(began) }
        }
      } finally {
        sequence.dispose()
      }
    }
    const workers = Math.min(this.context.totalSequences, passages.length)
    await Promise.all(Array.from({ length: workers }, worker))
    return results
  }

  async rank(query: string, candidates: Candidate[], options: RankOptions = {}): Promise<RankOutcome> {
    const keep = resolveTopN(options.topN, candidates.length)
    const judgements = await this.judge(query, candidates.map((c) => c.text), options.signal)
    const scored = candidates.map((c, i) => ({ ...c, score: judgements[i]!.logOdds, scores: { ...c.scores, cross_encoder: judgements[i]!.logOdds } }))
    // Stable: equal log-odds keep the incoming order.
    const order = scored.map((_, i) => i).sort((a, b) => scored[b]!.score - scored[a]!.score || a - b)
    return { candidates: order.slice(0, keep).map((i) => scored[i]!), truncatedPassages: judgements.filter((j) => j.truncated).length }
  }

  async dispose(): Promise<void> {
    await this.queue
    await this.context.dispose()
    await this.lm.dispose()
  }
}
