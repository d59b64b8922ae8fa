import { windowLogit } from '../../calibration/temperature.js'
import type { Candidate } from '../../candidate.js'
import { resolveTopN, type RankOptions, type RankOutcome, type Reranker, type WindowDebug } from '../reranker.js'
import { maxIdentifiers } from './identifier-logits.js'
import type { ListwisePrompt, ListwisePromptBuilder } from './prompt.js'
import { defaultStride, defaultWindowSize, slidingWindowRerank } from './sliding-window.js'

/**
 * The log-odds that the window's softmax over its identifier logits puts on `slot` coming first, over
 * the slots that have a finite logit; undefined when the slot itself has none.
 */
export function windowLogOdds(steps: readonly { logits: readonly (number | undefined)[] }[], placement: { step: number; slot: number } | undefined): number | undefined {
  if (placement === undefined) return undefined
  const logits = steps[placement.step]?.logits
  const own = logits?.[placement.slot]
  if (logits === undefined || own === undefined || !Number.isFinite(own)) return undefined
  const finite: number[] = []
  let index = -1
  logits.forEach((z, slot) => {
    if (z === undefined || !Number.isFinite(z)) return
    if (slot === placement.slot) index = finite.length
    finite.push(z)
  })
  return windowLogit(finite, index)
}

/** Scores one rendered window: one value per identifier (a logit or a logprob; higher is better). */
export interface ListwiseBackend {
  readonly name: string
  identifierScores(prompt: ListwisePrompt, signal?: AbortSignal): Promise<readonly (number | undefined)[]>
  dispose(): Promise<void>
}

export interface ListwiseOptions {
  name?: string
  /** Passages per window, at most 20 (default 20). */
  windowSize?: number
  /** Window step towards the front (default 10). */
  stride?: number
  /** Rerank only the first topM candidates; the rest follow unchanged (default: all given). */
  topM?: number
}

/**
 * FIRST-style listwise reranking: sliding windows over the candidates, each window ordered by the
 * model's first-token logits for the passage identifiers.
 *
 * `scores.listwise` is the candidate's **window log-odds**: z_i − logsumexp_{j≠i} z_j over the
 * identifier logits of the last window that scored it, i.e. log(p / (1 − p)) for p = the window
 * softmax's probability that this passage comes first (clipped to ±40). Raw logits of different windows
 * are not on one scale (a backend may shift them all); the log-odds are, which is what lets a calibrator
 * map them to P(relevant). Slots the backend gave no logit are left out of the sum; a candidate without
 * a logit has no `scores.listwise`. `score` is 1 / (rank + 1) over the final order so that it decreases
 * down the list.
 *
 * @example
 *   const builder = await ListwisePromptBuilder.fromDirectory(dir)
 *   const lm = await OnnxCausalLmBackend.load({ modelDir: dir, tokenizer: builder.tokenizer })
 *   const listwise = new ListwiseReranker(lm, builder, { windowSize: 20, stride: 10 })
 *   const { candidates, windows } = await listwise.rank(query, top30, { topN: 10 })
 */
export class ListwiseReranker implements Reranker {
  readonly scoreKey = 'listwise' as const
  readonly name: string
  private readonly windowSize: number
  private readonly stride: number

  constructor(
    private readonly backend: ListwiseBackend,
    private readonly prompts: ListwisePromptBuilder,
    private readonly options: ListwiseOptions = {},
  ) {
    this.name = options.name ?? `listwise:${backend.name}`
    this.windowSize = options.windowSize ?? defaultWindowSize
    this.stride = options.stride ?? defaultStride
    if (!Number.isInteger(this.windowSize) || this.windowSize < 2 || this.windowSize > maxIdentifiers) {
      throw new RangeError(`windowSize must be an integer in [2, ${maxIdentifiers}], got ${this.windowSize}`)
    }
  }

  async rank(query: string, candidates: Candidate[], options: RankOptions = {}): Promise<RankOutcome> {
    const keep = resolveTopN(options.topN, candidates.length)
    const truncatedPerWindow: boolean[][] = []
    const scoreWindow = async (q: string, passages: string[], signal?: AbortSignal) => {
      const prompt = this.prompts.build(q, passages)
      truncatedPerWindow.push(prompt.truncated)
      return this.backend.identifierScores(prompt, signal)
    }
    const result = await slidingWindowRerank(query, candidates, (c) => c.text, scoreWindow, {
      windowSize: this.windowSize,
      stride: this.stride,
      ...(this.options.topM !== undefined && { topM: this.options.topM }),
      ...(options.signal !== undefined && { signal: options.signal }),
    })
    const logOdds = new Map(candidates.map((c, i) => [c, windowLogOdds(result.steps, result.lastPlacement[i])]))
    const ranked = result.items.slice(0, keep).map((c, rank) => {
      const odds = logOdds.get(c)
      return { ...c, score: 1 / (rank + 1), scores: odds === undefined ? { ...c.scores } : { ...c.scores, listwise: odds } }
    })
    const windows: WindowDebug[] = result.steps.map((step, i) => ({
      start: step.start,
      end: step.end,
      ids: step.items.map((c) => c.id),
      logits: step.logits,
      permutation: step.permutation,
      truncatedPassages: (truncatedPerWindow[i] ?? []).filter(Boolean).length,
      ms: step.ms,
    }))
    // Overlapping windows see a passage twice; count each shortened candidate once.
    const truncatedIds = new Set(result.steps.flatMap((step, i) => step.items.filter((_, slot) => truncatedPerWindow[i]?.[slot]).map((c) => c.id)))
    return { candidates: ranked, truncatedPassages: truncatedIds.size, windows }
  }

  async dispose(): Promise<void> {
    await this.backend.dispose()
  }
}
