import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { errors } from '../errors.js'
import { CALIBRATION_METHODS, type CalibrationMethod } from '../schemas/calibration.js'
import { applyIsotonic, fitIsotonic, MIN_ISOTONIC_EXAMPLES } from './isotonic.js'
import { calibrationSummary, reliabilityBins, logLoss, type CalibrationSummary, type ReliabilityBin } from './metrics.js'
import { applyPlatt, fitPlatt, sigmoid } from './platt.js'
import {
  applyListwiseCalibrator,
  applyListwiseLogOdds,
  applyPointwiseTemperature,
  fitListwiseCalibrator,
  fitListwiseLogOdds,
  fitPointwiseTemperature,
  windowLogit,
  windowProbability,
} from './temperature.js'

// Choosing and fitting a score calibrator from labelled examples, and applying a stored one.

/** Below these counts `fitCalibrator` refuses: a held-out estimate needs both labels in every fold. */
export const MIN_CALIBRATION_EXAMPLES = 20
export const MIN_EXAMPLES_PER_LABEL = 5
export const DEFAULT_CALIBRATION_FOLDS = 5
export const DEFAULT_CALIBRATION_SEED = 1

// The methods, in order of simplicity (on an exact tie in held-out log-loss the earlier one wins), are
// part of the API: src/schemas/calibration.ts holds them.
export { CALIBRATION_METHODS, type CalibrationMethod } from '../schemas/calibration.js'

/**
 * One labelled score. A pointwise stage gives a number; a listwise stage gives its window's identifier
 * logits with `index`, the candidate's position in that window, or (as the service's listwise stage
 * reports it) the window log-odds as a number; and optionally `rank`, its final 1-based rank (needed by
 * the 'listwise' method and the 'rank' raw scale).
 */
export interface CalibrationExample {
  score: number | readonly number[]
  index?: number
  rank?: number
  label: 0 | 1
}

/**
 * What the raw score is, for the uncalibrated baseline ("before"):
 * 'probability' is used as-is, 'cosine' maps to (s + 1) / 2, 'logit' goes through a plain sigmoid,
 * 'rank' ignores the score and reads 1 / rank (1-based; what a listwise stage reports uncalibrated).
 * Window logits always use softmax(z)[index] at T = 1.
 */
export type RawScale = 'probability' | 'cosine' | 'logit' | 'rank'

/** Whether the examples carry scalar scores or windows of logits. */
type ScoreInput = 'scalar' | 'window'

export interface FitCalibratorOptions {
  folds?: number
  seed?: number
  methods?: readonly CalibrationMethod[]
  /** Defaults to a guess from the range: all in [0, 1] → probability, in [-1, 1] → cosine, else logit. */
  rawScale?: RawScale
}

const ScoreInputSchema = Type.Union([Type.Literal('scalar'), Type.Literal('window')])

/** The stored form of a calibrator. `version` changes whenever the meaning of `params` does. */
export const SerialisedCalibratorSchema = Type.Union([
  Type.Object({
    version: Type.Literal(1),
    method: Type.Literal('platt'),
    params: Type.Object({ input: ScoreInputSchema, a: Type.Number(), b: Type.Number() }),
  }),
  Type.Object({
    version: Type.Literal(1),
    method: Type.Literal('temperature'),
    params: Type.Object({ temperature: Type.Number({ exclusiveMinimum: 0 }) }),
  }),
  Type.Object({
    version: Type.Literal(1),
    method: Type.Literal('listwise'),
    params: Type.Object({
      temperature: Type.Number({ exclusiveMinimum: 0 }),
      weights: Type.Tuple([Type.Number(), Type.Number()]),
      bias: Type.Number(),
    }),
  }),
  Type.Object({
    version: Type.Literal(1),
    method: Type.Literal('isotonic'),
    params: Type.Object({
      input: ScoreInputSchema,
      x: Type.Array(Type.Number(), { minItems: 1 }),
      y: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { minItems: 1 }),
      eps: Type.Number({ minimum: 0, maximum: 0.5 }),
    }),
  }),
])
export type SerialisedCalibrator = Static<typeof SerialisedCalibratorSchema>
export const CALIBRATOR_VERSION = 1

export interface CalibrationFit {
  method: CalibrationMethod
  params: SerialisedCalibrator['params']
  /** What to store and later pass to `applyCalibrator`. */
  calibrator: SerialisedCalibrator
  /**
   * Out-of-fold quality: every example is predicted by the model fitted without its fold, and the
   * pooled predictions are scored. "before" is the raw score read as a probability (see RawScale).
   */
  heldOut: {
    before: CalibrationSummary
    after: CalibrationSummary
    reliability: { before: ReliabilityBin[]; after: ReliabilityBin[] }
  }
  baseline: 'identity' | 'cosine' | 'sigmoid' | 'window-softmax' | 'rank'
  /** Mean over folds of each candidate's held-out log-loss. */
  candidates: { method: CalibrationMethod; meanLogLoss: number }[]
  n: number
  positives: number
  folds: number
  seed: number
  reason: string
}

/** Map graded judgements (e.g. 0-3 relevance) to 0/1: at or above `threshold` counts as relevant. */
export function binarize(labels: readonly number[], threshold: number): (0 | 1)[] {
  if (!Number.isFinite(threshold)) throw errors.invalidValue('threshold', threshold, 'must be a finite number')
  return labels.map((label, i) => {
    if (typeof label !== 'number' || Number.isNaN(label)) throw errors.invalidValue(`labels[${i}]`, label, 'graded labels must be numbers')
    return label >= threshold ? 1 : 0
  })
}

/** Check a value loaded from storage or a request; throws naming the problem. */
export function parseCalibrator(value: unknown): SerialisedCalibrator {
  const version = (value as { version?: unknown } | null)?.version
  if (version !== CALIBRATOR_VERSION) {
    throw errors.invalidValue('calibrator.version', version, `supported versions: ${CALIBRATOR_VERSION}`)
  }
  const method = (value as { method?: unknown }).method
  if (!CALIBRATION_METHODS.includes(method as CalibrationMethod)) {
    throw errors.invalidValue('calibrator.method', method, `valid methods: ${CALIBRATION_METHODS.join(', ')}`)
  }
  const problem = Value.Errors(SerialisedCalibratorSchema, value)[0]
  if (problem) throw errors.invalidRequest(`calibrator${problem.instancePath.replaceAll('/', '.')}`, problem.message)
  return value as SerialisedCalibrator
}

/**
 * P(relevant) for one raw score. Window methods (and 'platt'/'isotonic' fitted on windows) need the
 * window's logits as `score` and `where.index`; 'listwise' also needs `where.rank`.
 */
export function applyCalibrator(
  calibrator: SerialisedCalibrator,
  score: number | readonly number[],
  where: { index?: number; rank?: number } = {},
): number {
  if (calibrator.version !== CALIBRATOR_VERSION) {
    throw errors.invalidValue('calibrator.version', calibrator.version, `supported versions: ${CALIBRATOR_VERSION}`)
  }
  switch (calibrator.method) {
    case 'platt':
      return applyPlatt(calibrator.params, feature(calibrator.params.input, score, where.index))
    case 'isotonic':
      return applyIsotonic(calibrator.params, feature(calibrator.params.input, score, where.index))
    case 'temperature':
      return applyPointwiseTemperature(calibrator.params, windowOf(score), indexOf(where.index))
    case 'listwise':
      // A scalar is a window log-odds at T = 1; only a calibrator fitted at T = 1 can read it.
      if (typeof score === 'number' && calibrator.params.temperature === 1) return applyListwiseLogOdds(calibrator.params, score, rankOf(where.rank))
      return applyListwiseCalibrator(calibrator.params, windowOf(score), indexOf(where.index), rankOf(where.rank))
  }
}

/** The scalar that 'platt' and 'isotonic' fit: the score itself, or a window candidate's log-odds at T = 1. */
function feature(input: 'scalar' | 'window', score: number | readonly number[], index: number | undefined): number {
  if (input === 'window') return windowLogit(windowOf(score), indexOf(index))
  if (typeof score !== 'number') throw errors.invalidRequest('score', 'this calibrator was fitted on scalar scores; got a vector')
  if (!Number.isFinite(score)) throw errors.invalidValue('score', score, 'scores must be finite numbers')
  return score
}

function windowOf(score: number | readonly number[]): readonly number[] {
  if (typeof score === 'number') throw errors.invalidRequest('score', 'this calibrator was fitted on window logits; got a single number')
  return score
}

function indexOf(index: number | undefined): number {
  if (index === undefined) throw errors.invalidRequest('index', 'window logits need the index of the candidate in its window')
  return index
}

function rankOf(rank: number | undefined): number {
  if (rank === undefined) throw errors.invalidRequest('rank', "the 'listwise' calibrator needs the candidate's final 1-based rank")
  return rank
}

/* --------------------------------------------- fitting -------------------------------------------- */

/**
 * Pick a calibrator by k-fold cross-validation and fit it on all the examples.
 *
 * Folds are stratified by label and shuffled with a seeded generator, so a fit is reproducible. Each
 * applicable method (platt always; temperature and listwise for window logits, listwise only when every
 * example has a rank; isotonic only from MIN_ISOTONIC_EXAMPLES) is fitted on k-1 folds and scored on the
 * held-out one; the lowest mean held-out log-loss wins (ties go to the simpler method), and is refitted
 * on everything. `heldOut.after` scores the winner's pooled out-of-fold predictions; `heldOut.before`
 * scores the raw scores read as probabilities (see RawScale) on the same examples.
 *
 * @example
 *   const fit = fitCalibrator(examples, { seed: 7 })
 *   store.save(fit.calibrator)                       // { version: 1, method: 'platt', params: { ... } }
 *   applyCalibrator(fit.calibrator, candidate.score) // P(relevant)
 */
export function fitCalibrator(examples: readonly CalibrationExample[], options: FitCalibratorOptions = {}): CalibrationFit {
  const input = validateExamples(examples)
  const labels = examples.map((e) => e.label)
  const n = examples.length
  const positives = labels.reduce<number>((s, y) => s + y, 0)
  const folds = checkCounts(n, positives, options.folds ?? DEFAULT_CALIBRATION_FOLDS)
  const seed = options.seed ?? DEFAULT_CALIBRATION_SEED
  const { usable, skipped } = applicableMethods(examples, input, options.methods ?? defaultMethods(input))

  const assignment = stratifiedFolds(labels, folds, seed)
  const scored = usable.map((method) => crossValidate(method, examples, input, assignment, folds))
  const best = scored.reduce((a, b) => (b.meanLogLoss < a.meanLogLoss ? b : a))

  const { probabilities: before, baseline } = baselineProbabilities(examples, input, options.rawScale)
  const calibrator = fitMethod(best.method, examples, input)
  const ranking = [...scored].sort((a, b) => a.meanLogLoss - b.meanLogLoss).map((s) => `${s.method} ${s.meanLogLoss.toFixed(4)}`)
  const reason = [
    `${best.method} had the lowest mean held-out log-loss over ${folds} stratified folds (${ranking.join(', ')})`,
    ...skipped,
  ].join('; ')

  return {
    method: best.method,
    params: calibrator.params,
    calibrator,
    heldOut: {
      before: calibrationSummary(before, labels),
      after: calibrationSummary(best.predictions, labels),
      reliability: { before: reliabilityBins(before, labels), after: reliabilityBins(best.predictions, labels) },
    },
    baseline,
    candidates: scored.map(({ method, meanLogLoss }) => ({ method, meanLogLoss })),
    n,
    positives,
    folds,
    seed,
    reason,
  }
}

/** Refuse too few labels, naming the thresholds and the counts; return the validated fold count. */
function checkCounts(n: number, positives: number, folds: number): number {
  const negatives = n - positives
  if (n < MIN_CALIBRATION_EXAMPLES || positives < MIN_EXAMPLES_PER_LABEL || negatives < MIN_EXAMPLES_PER_LABEL) {
    throw errors.invalidRequest(
      'examples',
      `calibration needs at least ${MIN_CALIBRATION_EXAMPLES} labelled examples with at least ${MIN_EXAMPLES_PER_LABEL} of each label; ` +
        `got ${n} (${positives} relevant, ${negatives} not relevant)`,
    )
  }
  const smaller = Math.min(positives, negatives)
  if (!Number.isInteger(folds) || folds < 2 || folds > smaller) {
    throw errors.invalidValue('folds', folds, `must be an integer from 2 to ${smaller} (the size of the smaller label class)`)
  }
  return folds
}

function validateExamples(examples: readonly CalibrationExample[]): ScoreInput {
  if (!Array.isArray(examples) || examples.length === 0) {
    throw errors.invalidRequest('examples', `calibration needs at least ${MIN_CALIBRATION_EXAMPLES} labelled examples; got none`)
  }
  const input: ScoreInput = typeof examples[0]!.score === 'number' ? 'scalar' : 'window'
  examples.forEach((e, i) => {
    if (e.label !== 0 && e.label !== 1) {
      throw errors.invalidValue(`examples[${i}].label`, e.label, 'labels must be 0 or 1; map graded labels with binarize(labels, threshold)')
    }
    const kind: ScoreInput = typeof e.score === 'number' ? 'scalar' : 'window'
    if (kind !== input) throw errors.invalidRequest(`examples[${i}].score`, `every score must be a number, or every score a window of logits; not a mix`)
    if (kind === 'scalar' && !Number.isFinite(e.score)) throw errors.invalidValue(`examples[${i}].score`, e.score, 'scores must be finite numbers')
    if (kind === 'window') validateWindow(e.score as readonly number[], e.index, i)
    if (e.rank !== undefined && (!Number.isInteger(e.rank) || e.rank < 1)) {
      throw errors.invalidValue(`examples[${i}].rank`, e.rank, 'must be an integer >= 1 (1 = top)')
    }
  })
  return input
}

function validateWindow(logits: readonly number[], index: number | undefined, i: number): void {
  if (logits.length === 0 || !logits.every(Number.isFinite)) {
    throw errors.invalidRequest(`examples[${i}].score`, 'a window needs at least one logit, all finite numbers')
  }
  if (index === undefined || !Number.isInteger(index) || index < 0 || index >= logits.length) {
    throw errors.invalidValue(`examples[${i}].index`, index, `must be an integer from 0 to ${logits.length - 1}, the candidate's position in its window`)
  }
}

const defaultMethods = (input: ScoreInput): readonly CalibrationMethod[] =>
  input === 'scalar' ? ['platt', 'isotonic'] : CALIBRATION_METHODS

function applicableMethods(examples: readonly CalibrationExample[], input: ScoreInput, requested: readonly CalibrationMethod[]) {
  const usable: CalibrationMethod[] = []
  const skipped: string[] = []
  for (const method of requested) {
    if (!CALIBRATION_METHODS.includes(method)) {
      throw errors.invalidValue('methods', method, `valid methods: ${CALIBRATION_METHODS.join(', ')}`)
    }
    if (method === 'temperature' && input === 'scalar') {
      skipped.push(`${method} skipped: it needs window logits with an index, the scores are scalars`)
    } else if (method === 'listwise' && examples.some((e) => e.rank === undefined)) {
      skipped.push('listwise skipped: it needs every example to carry its final rank')
    } else if (method === 'isotonic' && examples.length < MIN_ISOTONIC_EXAMPLES) {
      skipped.push(`isotonic skipped: it needs at least ${MIN_ISOTONIC_EXAMPLES} labelled examples, got ${examples.length}`)
    } else if (!usable.includes(method)) {
      usable.push(method)
    }
  }
  if (usable.length === 0) throw errors.invalidRequest('methods', `no requested method applies: ${skipped.join('; ')}`)
  return { usable, skipped }
}

function fitMethod(method: CalibrationMethod, train: readonly CalibrationExample[], input: ScoreInput): SerialisedCalibrator {
  const labels = train.map((e) => e.label)
  const features = () => train.map((e) => feature(input, e.score, e.index))
  const windows = () => train.map((e) => ({ logits: e.score as readonly number[], index: e.index!, rank: e.rank!, label: e.label }))
  switch (method) {
    case 'platt':
      return { version: 1, method, params: { input, ...fitPlatt(features(), labels) } }
    case 'isotonic':
      // The MIN_ISOTONIC_EXAMPLES floor was checked on the whole set; a training fold is a fraction of it.
      return { version: 1, method, params: { input, ...fitIsotonic(features(), labels, { minExamples: 0 }) } }
    case 'temperature':
      return { version: 1, method, params: fitPointwiseTemperature(windows()) }
    case 'listwise':
      // Scalar scores are window log-odds at T = 1 (the listwise stage's scores.listwise).
      return input === 'scalar'
        ? { version: 1, method, params: fitListwiseLogOdds(train.map((e) => ({ score: e.score as number, rank: e.rank!, label: e.label }))) }
        : { version: 1, method, params: fitListwiseCalibrator(windows()) }
  }
}

function crossValidate(method: CalibrationMethod, examples: readonly CalibrationExample[], input: ScoreInput, assignment: readonly number[], folds: number) {
  const predictions = new Array<number>(examples.length).fill(0)
  let totalLogLoss = 0
  for (let fold = 0; fold < folds; fold++) {
    const train = examples.filter((_, i) => assignment[i] !== fold)
    const test = examples.map((e, i) => ({ e, i })).filter(({ i }) => assignment[i] === fold)
    const calibrator = fitMethod(method, train, input)
    const p = test.map(({ e }) => applyCalibrator(calibrator, e.score, e))
    test.forEach(({ i }, k) => (predictions[i] = p[k]!))
    totalLogLoss += logLoss(
      p,
      test.map(({ e }) => e.label),
    )
  }
  return { method, predictions, meanLogLoss: totalLogLoss / folds }
}

/** Shuffle each label class with a seeded generator and deal it round-robin, so every fold has both. */
function stratifiedFolds(labels: readonly (0 | 1)[], folds: number, seed: number): number[] {
  const random = mulberry32(seed)
  const assignment = new Array<number>(labels.length).fill(0)
  let next = 0
  for (const label of [1, 0] as const) {
    const members = labels.flatMap((y, i) => (y === label ? [i] : []))
    for (let k = members.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1))
      ;[members[k], members[j]] = [members[j]!, members[k]!]
    }
    // Continue dealing where the previous class stopped, so fold sizes differ by at most one overall.
    for (const i of members) assignment[i] = next++ % folds
  }
  return assignment
}

/** A small, fast, well-mixed 32-bit PRNG; enough for shuffling folds reproducibly (tests reuse it). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function baselineProbabilities(examples: readonly CalibrationExample[], input: ScoreInput, rawScale?: RawScale) {
  if (input === 'window') {
    return { baseline: 'window-softmax' as const, probabilities: examples.map((e) => windowProbability(e.score as readonly number[], e.index!)) }
  }
  const scores = examples.map((e) => e.score as number)
  const scale = rawScale ?? guessRawScale(scores)
  if (scale === 'rank') {
    return {
      baseline: 'rank' as const,
      probabilities: examples.map((e, i) => {
        if (e.rank === undefined) throw errors.invalidRequest(`examples[${i}].rank`, "the 'rank' raw scale reads 1 / rank: every example needs its rank")
        return 1 / e.rank
      }),
    }
  }
  if (scale === 'probability') {
    if (scores.some((s) => s < 0 || s > 1)) throw errors.invalidValue('rawScale', scale, 'probability scores must lie in [0, 1]')
    return { baseline: 'identity' as const, probabilities: scores }
  }
  if (scale === 'cosine') {
    return { baseline: 'cosine' as const, probabilities: scores.map((s) => Math.min(1, Math.max(0, (s + 1) / 2))) }
  }
  return { baseline: 'sigmoid' as const, probabilities: scores.map(sigmoid) }
}

const guessRawScale = (scores: readonly number[]): RawScale =>
  scores.every((s) => s >= 0 && s <= 1) ? 'probability' : scores.every((s) => s >= -1 && s <= 1) ? 'cosine' : 'logit'
