import type { Candidate } from '../candidate.js'

/** Reciprocal rank fusion's k (Cormack et al. 2009; Elasticsearch's and Qdrant's default `rank_constant`). */
export const RRF_RANK_CONSTANT = 60

/** How a stage's order combines with the orders before it: `rrf` fuses them, absent replaces them. */
export type StageFusion = 'rrf'

/**
 * Running reciprocal-rank sums for a chain of fused rerank stages, keyed by candidate id. A chain
 * starts at an order that is not fused (the retrieval order, or a stage without fusion): each
 * candidate's sum is 1 / (k + rank). Each fused stage adds its own 1 / (k + rank), so after stages
 * A, B (fused) and C (fused) the order is the three-way RRF of A, B and C, not a fusion of fusions.
 *
 * @example
 *   let sums = startChain(retrieved)          // bge-small's order, say
 *   ;({ order, sums } = fuseStage(sums, gemmaOrder))
 */
export function startChain(order: readonly Candidate[], k: number = RRF_RANK_CONSTANT): Map<string, number> {
  return new Map(order.map((c, rank) => [c.id, 1 / (k + rank + 1)]))
}

/**
 * Adds a stage's ranking (best first) to the chain's sums and orders the stage's candidates by the
 * fused sum (ties keep the stage's order). Each candidate's `score` becomes its fused sum; its raw
 * stage score stays in `scores`. A candidate new to the chain starts from 0.
 */
export function fuseStage(
  sums: ReadonlyMap<string, number>,
  ranked: readonly Candidate[],
  k: number = RRF_RANK_CONSTANT,
): { order: Candidate[]; sums: Map<string, number> } {
  const next = new Map<string, number>()
  const fused = ranked.map((c, rank) => {
    const sum = (sums.get(c.id) ?? 0) + 1 / (k + rank + 1)
    next.set(c.id, sum)
    return { ...c, score: sum }
  })
  // Array.prototype.sort is stable: equal sums keep the stage's own order.
  fused.sort((a, b) => b.score - a.score)
  return { order: fused, sums: next }
}

/**
 * A stage's ranked output applied to the cascade: without fusion it is the new order and starts a new
 * chain; with `rrf` it is fused into the chain. Either way the order is cut to `topN`. The search
 * cascade and the reranking evaluation both go through here, so they order candidates alike.
 */
export function applyStage(
  chain: ReadonlyMap<string, number>,
  ranked: readonly Candidate[],
  fusion: StageFusion | undefined,
  topN: number,
): { order: Candidate[]; chain: Map<string, number> } {
  if (fusion === undefined) {
    const order = ranked.slice(0, topN)
    return { order, chain: startChain(order) }
  }
  const fused = fuseStage(chain, ranked)
  return { order: fused.order.slice(0, topN), chain: fused.sums }
}
