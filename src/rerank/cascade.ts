import { elapsedMs, type Candidate } from '../candidate.js'
import type { Reranker, RerankScoreKey, WindowDebug } from './reranker.js'
import { applyStage, startChain, type StageFusion } from './stage-fusion.js'

export interface CascadeStage {
  reranker: Reranker
  /** How many candidates this stage passes on (and the next stage sees). */
  topN: number
  /**
   * 'rrf': order by the reciprocal rank fusion of this stage's ranking with the rankings before it,
   * back to the last stage without fusion (or the retrieval order), instead of by this stage alone.
   */
  fusion?: StageFusion
  /** The model id the stage's scores are recorded under (default: the reranker's name). */
  model?: string
}

export interface CascadeOptions {
  /** Wall-clock budget for all stages; a stage that would start after it is skipped. */
  budgetMs?: number
  /** The caller's signal (e.g. the HTTP request closing); aborting it aborts the cascade. */
  signal?: AbortSignal
}

export interface StageReport {
  name: string
  scoreKey: RerankScoreKey
  fusion?: StageFusion
  /** 'skipped': the budget was spent before the stage; 'failed': it threw and its order was discarded. */
  status: 'ok' | 'skipped' | 'failed'
  inputCount: number
  outputCount: number
  ms: number
  truncatedPassages: number
  reason?: string
  windows?: WindowDebug[]
}

export interface CascadeOutcome {
  /** The best order available: the last successful stage's, cut to the last stage's topN. */
  candidates: Candidate[]
  stages: StageReport[]
  /** True when a stage was skipped or failed; `reason` says which and why. */
  degraded: boolean
  reason?: string
  ms: number
}

/**
 * Runs rerankers as a fold: each stage reorders the previous stage's top N. A stage that fails or
 * would start after the budget is spent is skipped (its cut still applies, so the response has the
 * size the caller asked for) and the outcome is marked degraded; only the caller's own abort throws.
 * Running stages get the remaining budget as an abort signal, so a slow remote stage is cut off.
 *
 * @example
 *   const out = await runCascade(query, retrieved, [{ reranker: ce, topN: 30 }, { reranker: listwise, topN: 10 }], { budgetMs: 800 })
 *   out.degraded // false when both stages ran in time
 */
export async function runCascade(
  query: string,
  candidates: readonly Candidate[],
  stages: readonly CascadeStage[],
  options: CascadeOptions = {},
): Promise<CascadeOutcome> {
  const began = performance.now()
  const deadline = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : began + options.budgetMs
  let current = [...candidates]
  // Reciprocal-rank sums of the chain a fused stage adds to (see stage-fusion.ts).
  let chain = startChain(current)
  const reports: StageReport[] = []
  for (const { reranker, topN, fusion, model } of stages) {
    options.signal?.throwIfAborted()
    const stageBegan = performance.now()
    const base = { name: reranker.name, scoreKey: reranker.scoreKey, ...(fusion !== undefined && { fusion }), inputCount: current.length, truncatedPassages: 0 }
    const remaining = deadline - stageBegan
    if (remaining <= 0) {
      current = current.slice(0, topN)
      const reason = `budget of ${options.budgetMs} ms spent after ${elapsedMs(began)} ms, before stage '${reranker.name}'`
      reports.push({ ...base, status: 'skipped', outputCount: current.length, ms: 0, reason })
      continue
    }
    const budget = Number.isFinite(remaining) ? AbortSignal.timeout(Math.max(1, Math.ceil(remaining))) : undefined
    try {
      const signal = combine(options.signal, budget)
      // A fused stage ranks all it sees: its cut applies to the fused order.
      const outcome = await reranker.rank(query, current, { topN: fusion === undefined ? topN : current.length, ...(signal !== undefined && { signal }) })
      const applied = applyStage(chain, withStageScore(outcome.candidates, model ?? reranker.name, reranker.scoreKey), fusion, topN)
      current = applied.order
      chain = applied.chain
      reports.push({
        ...base,
        status: 'ok',
        outputCount: current.length,
        ms: elapsedMs(stageBegan),
        truncatedPassages: outcome.truncatedPassages,
        ...(outcome.windows !== undefined && { windows: outcome.windows }),
      })
    } catch (error) {
      options.signal?.throwIfAborted()
      current = current.slice(0, topN)
      const reason = budget?.aborted
        ? `stage '${reranker.name}' ran past the budget of ${options.budgetMs} ms and was cut off`
        : `stage '${reranker.name}' failed: ${error instanceof Error ? error.message : String(error)}`
      reports.push({ ...base, status: 'failed', outputCount: current.length, ms: elapsedMs(stageBegan), reason })
    }
  }
  const problems = reports.filter((r) => r.status !== 'ok').map((r) => r.reason!)
  return {
    candidates: current,
    stages: reports,
    degraded: problems.length > 0,
    ...(problems.length > 0 && { reason: problems.join('; ') }),
    ms: elapsedMs(began),
  }
}

/** Appends this stage's raw score to each candidate's `rerankScores` (new arrays: candidates are shared). */
function withStageScore(candidates: readonly Candidate[], model: string, stage: RerankScoreKey): Candidate[] {
  return candidates.map((c) => {
    const score = c.scores[stage] ?? c.score
    return { ...c, rerankScores: [...(c.rerankScores ?? []), { model, stage, score }] }
  })
}

function combine(caller: AbortSignal | undefined, budget: AbortSignal | undefined): AbortSignal | undefined {
  if (caller === undefined || budget === undefined) return caller ?? budget
  return AbortSignal.any([caller, budget])
}
