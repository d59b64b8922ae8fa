/**
 * Sliding-window listwise reranking (RankGPT / FIRST): windows move from the back of the list to the
 * front, so a strong passage found low in the list is carried forward window after window and can
 * reach the top in a single pass. Model-agnostic: the caller supplies `scoreWindow`.
 */
import { elapsedMs } from '../../candidate.js'

/** One logit per passage in the window; undefined when the backend could not report it. */
export type WindowScorer = (
  query: string,
  passages: string[],
  signal?: AbortSignal,
) => Promise<readonly (number | undefined)[]>

export interface SlidingWindowOptions {
  /** Passages per window (default 20, the number of single-letter identifiers a prompt uses). */
  windowSize?: number
  /** How far the window moves towards the front each step (default 10). */
  stride?: number
  /** Rerank only the first `topM` items; the rest keep their order after them (default: all). */
  topM?: number
  signal?: AbortSignal
}

export interface WindowStep<T> {
  /** The window's items before reordering; `permutation` indexes into this. */
  items: T[]
  start: number
  end: number
  logits: (number | undefined)[]
  /** `permutation[i]` is the window slot (before reordering) now at position start + i. */
  permutation: number[]
  ms: number
}

export interface SlidingWindowResult<T> {
  items: T[]
  steps: WindowStep<T>[]
  /** The last logit each item received, by its index in the input list. */
  lastLogit: (number | undefined)[]
  /**
   * Where each item (by input index) last received a logit: the index into `steps` and its slot in that
   * window. A window calibrator reads that window's logits (src/calibration/temperature.ts).
   */
  lastPlacement: ({ step: number; slot: number } | undefined)[]
}

export const defaultWindowSize = 20
export const defaultStride = 10

/** Window bounds, back to front: for 30 items, size 20, stride 10 -> [10, 30), [0, 20). */
export function windowBounds(count: number, windowSize: number, stride: number): { start: number; end: number }[] {
  if (!Number.isInteger(windowSize) || windowSize < 1) throw new RangeError(`windowSize must be a positive integer, got ${windowSize}`)
  if (!Number.isInteger(stride) || stride < 1 || stride > windowSize) {
    throw new RangeError(`stride must be an integer in [1, windowSize=${windowSize}], got ${stride}`)
  }
  const bounds: { start: number; end: number }[] = []
  for (let end = count; end > 0; end -= stride) {
    const start = Math.max(0, end - windowSize)
    bounds.push({ start, end })
    if (start === 0) break
  }
  return bounds
}

/**
 * The order that sorts a window by descending logit. Slots without a logit go after the scored
 * ones and, like ties, keep their previous relative order (the sort is stable).
 */
export function permutationByLogit(logits: readonly (number | undefined)[]): number[] {
  const present = (v: number | undefined): v is number => v !== undefined && !Number.isNaN(v)
  return logits
    .map((_, slot) => slot)
    .sort((a, b) => {
      const la = logits[a]
      const lb = logits[b]
      if (present(la) && present(lb)) return la === lb ? 0 : lb > la ? 1 : -1
      return Number(!present(la)) - Number(!present(lb))
    })
}

/**
 * Reorders `items` with listwise windows scored by `scoreWindow`.
 *
 * @example
 *   const { items } = await slidingWindowRerank('query', docs, (d) => d.text, scoreWithLlm, { windowSize: 20, stride: 10 })
 */
export async function slidingWindowRerank<T>(
  query: string,
  items: readonly T[],
  textOf: (item: T) => string,
  scoreWindow: WindowScorer,
  options: SlidingWindowOptions = {},
): Promise<SlidingWindowResult<T>> {
  const windowSize = options.windowSize ?? defaultWindowSize
  const stride = options.stride ?? defaultStride
  const topM = Math.min(options.topM ?? items.length, items.length)
  // Work on input indices so lastLogit can be reported per original item.
  const order = items.map((_, i) => i)
  const lastLogit: (number | undefined)[] = items.map(() => undefined)
  const lastPlacement: ({ step: number; slot: number } | undefined)[] = items.map(() => undefined)
  const steps: WindowStep<T>[] = []
  for (const { start, end } of windowBounds(topM, windowSize, stride)) {
    options.signal?.throwIfAborted()
    const began = performance.now()
    const slots = order.slice(start, end)
    const logits = [...(await scoreWindow(query, slots.map((i) => textOf(items[i]!)), options.signal))]
    if (logits.length !== slots.length) {
      throw new Error(`scoreWindow returned ${logits.length} logits for a window of ${slots.length} passages`)
    }
    const permutation = permutationByLogit(logits)
    permutation.forEach((slot, position) => (order[start + position] = slots[slot]!))
    slots.forEach((index, slot) => {
      if (logits[slot] === undefined) return
      lastLogit[index] = logits[slot]
      lastPlacement[index] = { step: steps.length, slot }
    })
    steps.push({ items: slots.map((i) => items[i]!), start, end, logits, permutation, ms: elapsedMs(began) })
  }
  return { items: order.map((i) => items[i]!), steps, lastLogit, lastPlacement }
}
