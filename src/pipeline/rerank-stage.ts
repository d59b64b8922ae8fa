import type { Candidate } from '../candidate.js'
import { errors } from '../errors.js'
import { runCascade, type CascadeOutcome } from '../rerank/cascade.js'
import type { RerankerPool } from '../rerank/reranker-pool.js'
import type { RerankOptions, RerankReport, RerankStage } from '../schemas/search.js'

// The report is the API's shape (src/schemas/search.ts), re-exported for the search pipeline.

export interface RerankDefaults {
  stages: RerankStage[]
  budgetMs: number
  maxCandidates: number
}

/**
 * Resolves a request's rerank options against the server's: the request may pick stages and budget
 * but only narrow the limits (top_n at most FUNNEL_RERANK_MAX_CANDIDATES, budget at most the server's).
 */
export function resolveRerank(request: RerankOptions, defaults: RerankDefaults): { stages: RerankStage[]; budgetMs: number } {
  const stages = request.stages ?? defaults.stages
  if (stages.length === 0) {
    throw errors.invalidValue('rerank.stages', [], 'name at least one stage ({ model, top_n }); the server has no default cascade (FUNNEL_RERANK_STAGES)')
  }
  stages.forEach((stage, i) => {
    if (stage.top_n > defaults.maxCandidates) {
      throw errors.invalidValue(`rerank.stages[${i}].top_n`, stage.top_n, `use 1..${defaults.maxCandidates} (FUNNEL_RERANK_MAX_CANDIDATES)`)
    }
    if (i > 0 && stage.top_n > stages[i - 1]!.top_n) {
      throw errors.invalidValue(`rerank.stages[${i}].top_n`, stage.top_n, `each stage sees the previous stage's top_n, so it must be <= ${stages[i - 1]!.top_n}`)
    }
  })
  const budgetMs = request.budget_ms ?? defaults.budgetMs
  if (budgetMs > defaults.budgetMs) throw errors.invalidValue('rerank.budget_ms', budgetMs, `use 1..${defaults.budgetMs} (the server budget)`)
  return { stages, budgetMs }
}

/** Runs the cascade over `candidates` (the first stage sees its top_n) and reports each stage; `signal` (the request's) aborts it. */
export async function rerankCandidates(
  pool: RerankerPool,
  query: string,
  candidates: Candidate[],
  plan: { stages: RerankStage[]; budgetMs: number },
  debug: boolean,
  signal?: AbortSignal,
): Promise<{ candidates: Candidate[]; report: RerankReport; outcome: CascadeOutcome }> {
  const rerankers = await Promise.all(plan.stages.map((s) => pool.get(s.model)))
  const outcome = await runCascade(query, candidates.slice(0, plan.stages[0]!.top_n), rerankers.map((reranker, i) => ({ reranker, topN: plan.stages[i]!.top_n, model: plan.stages[i]!.model, ...(plan.stages[i]!.fusion !== undefined && { fusion: plan.stages[i]!.fusion }) })), { budgetMs: plan.budgetMs, ...(signal !== undefined && { signal }) })
  const report: RerankReport = {
    stages: outcome.stages.map((s, i) => ({
      model: plan.stages[i]!.model,
      name: s.name,
      scoreKey: s.scoreKey,
      ...(s.fusion !== undefined && { fusion: s.fusion }),
      status: s.status,
      inputCount: s.inputCount,
      outputCount: s.outputCount,
      ms: s.ms,
      truncatedPassages: s.truncatedPassages,
      ...(s.reason !== undefined && { reason: s.reason }),
      // JSON has no undefined: identifiers a remote server did not report become null.
      ...(debug && s.windows !== undefined && { windows: s.windows.map((w) => ({ ...w, logits: w.logits.map((l) => l ?? null) })) }),
    })),
    degraded: outcome.degraded,
    ...(outcome.reason !== undefined && { reason: outcome.reason }),
    ms: outcome.ms,
  }
  return { candidates: outcome.candidates, report, outcome }
}
