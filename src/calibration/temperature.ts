import { errors } from '../errors.js'
import { applyLogistic, fitLogistic, sigmoid } from './platt.js'

/**
 * Temperature scaling for stages whose raw output is a vector of logits over alternatives — a listwise
 * reranker's logits for the identifier tokens of the candidates in one window. The calibrated
 * distribution is softmax(z / T); one parameter T > 0, so it cannot overfit and keeps the ordering.
 *
 * @example
 *   const { temperature } = fitTemperature([{ logits: [4.1, 2.0, -0.5], target: 0 }, ...])
 *   windowProbability([4.1, 2.0, -0.5], 0, temperature)   // calibrated P(candidate 0 is the best)
 */
export interface TemperatureParams {
  temperature: number
}

/** T is searched in this range; outside it the fit is telling us the logits carry no signal (or all of it). */
export const TEMPERATURE_BOUNDS = { min: 0.01, max: 100 } as const

/** Window log-odds are clipped to this magnitude, so a window of one (p = 1) still gives a finite feature. */
export const WINDOW_LOGIT_LIMIT = 40

/** A window with the index of the alternative that was correct (the classic multi-class setting). */
export interface CategoricalWindow {
  logits: readonly number[]
  target: number
}

/** One candidate of a window: its window's logits, its position in the window and its relevance label. */
export interface WindowExample {
  logits: readonly number[]
  index: number
  label: 0 | 1
}

/** logsumexp over z_j / T for j != skip (pass skip = -1 for all), without allocating. */
function logSumExpScaled(logits: readonly number[], temperature: number, skip: number): number {
  let max = -Infinity
  for (let j = 0; j < logits.length; j++) if (j !== skip && logits[j]! / temperature > max) max = logits[j]! / temperature
  if (max === -Infinity) return -Infinity
  let sum = 0
  for (let j = 0; j < logits.length; j++) if (j !== skip) sum += Math.exp(logits[j]! / temperature - max)
  return max + Math.log(sum)
}

// Unchecked forms for the fitting loops, which validate every window once up front.
const logProbability = (logits: readonly number[], index: number, temperature: number): number =>
  logits[index]! / temperature - logSumExpScaled(logits, temperature, -1)

const logOdds = (logits: readonly number[], index: number, temperature: number): number => {
  const value = logits[index]! / temperature - logSumExpScaled(logits, temperature, index)
  return Math.max(-WINDOW_LOGIT_LIMIT, Math.min(WINDOW_LOGIT_LIMIT, value))
}

function checkWindow(logits: readonly number[], index: number): void {
  if (logits.length === 0) throw errors.invalidRequest('score', 'a window needs at least one logit')
  if (!Number.isInteger(index) || index < 0 || index >= logits.length) {
    throw errors.invalidValue('index', index, `must be an integer from 0 to ${logits.length - 1} (the window has ${logits.length} logits)`)
  }
  for (const z of logits) if (!Number.isFinite(z)) throw errors.invalidValue('score', z, 'logits must be finite numbers')
}

/** log softmax(z / T)[index], computed without overflow. */
export function windowLogProbability(logits: readonly number[], index: number, temperature = 1): number {
  checkWindow(logits, index)
  return logProbability(logits, index, temperature)
}

/** softmax(z / T)[index]: the probability the window's softmax puts on this candidate. */
export const windowProbability = (logits: readonly number[], index: number, temperature = 1): number =>
  Math.exp(windowLogProbability(logits, index, temperature))

/**
 * log(p / (1 - p)) for p = softmax(z / T)[index], computed directly as z_i/T - logsumexp_{j != i}(z_j/T)
 * so it stays exact when p is within 1e-16 of 1. Clipped to ±WINDOW_LOGIT_LIMIT.
 */
export function windowLogit(logits: readonly number[], index: number, temperature = 1): number {
  checkWindow(logits, index)
  return logOdds(logits, index, temperature)
}

/**
 * Minimise f(T) over TEMPERATURE_BOUNDS: a grid on log T finds the basin (the loss is not guaranteed
 * unimodal), golden-section search refines it to ~1e-9 in log T.
 */
export function minimiseOverTemperature(loss: (temperature: number) => number): number {
  const lo = Math.log(TEMPERATURE_BOUNDS.min)
  const hi = Math.log(TEMPERATURE_BOUNDS.max)
  const steps = 40
  const f = (u: number): number => loss(Math.exp(u))
  let best = 0
  let bestValue = Infinity
  for (let k = 0; k <= steps; k++) {
    const value = f(lo + ((hi - lo) * k) / steps)
    if (value < bestValue) [best, bestValue] = [k, value]
  }
  let a = lo + ((hi - lo) * Math.max(0, best - 1)) / steps
  let b = lo + ((hi - lo) * Math.min(steps, best + 1)) / steps
  const ratio = (Math.sqrt(5) - 1) / 2
  let c = b - ratio * (b - a)
  let d = a + ratio * (b - a)
  let fc = f(c)
  let fd = f(d)
  while (b - a > 1e-9) {
    if (fc <= fd) {
      ;[b, d, fd] = [d, c, fc]
      c = b - ratio * (b - a)
      fc = f(c)
    } else {
      ;[a, c, fc] = [c, d, fd]
      d = a + ratio * (b - a)
      fd = f(d)
    }
  }
  return Math.exp((a + b) / 2)
}

/** Classic temperature scaling: minimise the categorical log-loss of the correct alternative. */
export function fitTemperature(windows: readonly CategoricalWindow[]): TemperatureParams {
  if (windows.length === 0) throw errors.invalidRequest('windows', 'need at least one window to fit a temperature')
  for (const w of windows) checkWindow(w.logits, w.target)
  const loss = (t: number): number =>
    windows.reduce((sum, w) => sum - logProbability(w.logits, w.target, t), 0) / windows.length
  return { temperature: minimiseOverTemperature(loss) }
}

/**
 * Pointwise temperature scaling: treat p = softmax(z / T)[index] as P(relevant) and minimise the binary
 * log-loss against 0/1 labels. Sound when a window holds about one relevant candidate; when it holds
 * several, the softmax mass is split between them and `fitListwiseCalibrator` is the better model.
 */
export function fitPointwiseTemperature(examples: readonly WindowExample[]): TemperatureParams {
  if (examples.length === 0) throw errors.invalidRequest('examples', 'need at least one example to fit a temperature')
  for (const e of examples) checkWindow(e.logits, e.index)
  const loss = (t: number): number => {
    let sum = 0
    for (const e of examples) {
      // -log p for positives, -log(1 - p) for negatives, both via the window log-odds for stability.
      const z = logOdds(e.logits, e.index, t)
      sum += e.label === 1 ? Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))
    }
    return sum / examples.length
  }
  return { temperature: minimiseOverTemperature(loss) }
}

export const applyPointwiseTemperature = (params: TemperatureParams, logits: readonly number[], index: number): number =>
  sigmoid(windowLogit(logits, index, params.temperature))

/* ------------------------------------------------------------------------------------------------ */

/** A candidate scored by a listwise stage: its last window's logits and index, and its final 1-based rank. */
export interface ListwiseExample extends WindowExample {
  rank: number
}

export interface ListwiseParams {
  temperature: number
  /** Weights on [logit of softmax(z/T)[index], log(rank)]. */
  weights: [number, number]
  bias: number
}

/**
 * How a listwise stage turns (window identifier logits, final rank) into P(relevant).
 *
 * 1. p_window = softmax(z / T)[i] is the model's belief that candidate i is the best of its window,
 *    with T fitted by `fitPointwiseTemperature`. Use the logits of the last window that placed the
 *    candidate (with sliding windows, the one that fixed its final position).
 * 2. p_window alone is not a relevance probability: it is relative, so it shrinks with window size and
 *    with the number of relevant siblings, and says nothing about windows the candidate was not in.
 *    The final rank carries that cross-window information.
 * 3. P(relevant) = sigmoid(w1 · logit(p_window) + w2 · log(rank) + b), a two-feature Platt fit (smoothed
 *    targets, Newton). logit(p_window) = z_i/T − logsumexp_{j≠i}(z_j/T) is the log-odds of beating the
 *    rest of the window; log(rank) because relevance falls off roughly as a power of rank (the DCG
 *    intuition): ranks 1 and 2 stay far apart, ranks 40 and 41 almost equal.
 *
 * T is fitted first and held fixed for step 3: inside the log-sum-exp it shapes the feature in a way the
 * linear weight cannot undo, and fitting it alone is a stable 1-D problem.
 */
export function listwiseFeatures(logits: readonly number[], index: number, rank: number, temperature: number): [number, number] {
  if (!Number.isInteger(rank) || rank < 1) throw errors.invalidValue('rank', rank, 'must be an integer >= 1 (1 = top)')
  return [windowLogit(logits, index, temperature), Math.log(rank)]
}

export function fitListwiseCalibrator(examples: readonly ListwiseExample[]): ListwiseParams {
  const { temperature } = fitPointwiseTemperature(examples)
  const features = examples.map((e) => listwiseFeatures(e.logits, e.index, e.rank, temperature))
  const { weights, bias } = fitLogistic(
    features,
    examples.map((e) => e.label),
  )
  return { temperature, weights: [weights[0] ?? 0, weights[1] ?? 0], bias }
}

export const applyListwiseCalibrator = (params: ListwiseParams, logits: readonly number[], index: number, rank: number): number =>
  applyLogistic({ weights: params.weights, bias: params.bias }, listwiseFeatures(logits, index, rank, params.temperature))

/**
 * The same two-feature model when the stage already reports each candidate's window log-odds at T = 1
 * (what `scores.listwise` holds, see ListwiseReranker): the temperature stays 1 and only the weights
 * and bias are fitted.
 */
export function fitListwiseLogOdds(examples: readonly { score: number; rank: number; label: 0 | 1 }[]): ListwiseParams {
  const features = examples.map((e) => logOddsFeatures(e.score, e.rank))
  const { weights, bias } = fitLogistic(
    features,
    examples.map((e) => e.label),
  )
  return { temperature: 1, weights: [weights[0] ?? 0, weights[1] ?? 0], bias }
}

/** P(relevant) from a window log-odds and the final rank; a calibrator fitted at another temperature needs the logits. */
export function applyListwiseLogOdds(params: ListwiseParams, logOddsAtT1: number, rank: number): number {
  if (params.temperature !== 1) {
    throw errors.invalidRequest('score', `this listwise calibrator was fitted at temperature ${params.temperature}: it needs the window's logits, not their log-odds`)
  }
  return applyLogistic({ weights: params.weights, bias: params.bias }, logOddsFeatures(logOddsAtT1, rank))
}

function logOddsFeatures(logOdds: number, rank: number): [number, number] {
  if (!Number.isFinite(logOdds)) throw errors.invalidValue('score', logOdds, 'window log-odds must be finite numbers')
  if (!Number.isInteger(rank) || rank < 1) throw errors.invalidValue('rank', rank, 'must be an integer >= 1 (1 = top)')
  return [Math.max(-WINDOW_LOGIT_LIMIT, Math.min(WINDOW_LOGIT_LIMIT, logOdds)), Math.log(rank)]
}
