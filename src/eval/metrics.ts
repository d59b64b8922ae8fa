/**
 * Ranking metrics with the conventions of trec_eval (and so pytrec_eval and BEIR), so that numbers
 * computed here can be set beside published ones:
 *
 * - The run gives scores, not ranks. Documents are ordered by score descending, and ties are broken
 *   by document id descending (trec_eval's `strcmp(b, a)`), whatever order the system produced them
 *   in. JavaScript compares UTF-16 code units, which equals trec_eval's byte order for every id
 *   without characters at U+E000 and above.
 * - nDCG@k: gain = the graded label, discount 1 / log2(rank + 1) with rank from 1, ideal DCG from the
 *   labels of that query's judged documents, sorted descending and cut at k. Labels <= 0 give no gain.
 * - Recall@k: relevant = label > 0; the denominator counts every relevant judged document of the
 *   query, retrieved or not, so a query with 3 relevant documents scores at most 1 only at k >= 3.
 * - MRR@k: 1 / rank of the first relevant document within the top k, else 0.
 * - Queries without any relevant judgment are skipped, as BEIR drops them (their nDCG is undefined).
 *   A judged query that is missing from the run scores 0 on every metric (trec_eval's `-c`), so a
 *   system cannot look better by failing on hard queries. Run queries without judgments are ignored.
 */

/** doc id -> score (in a run) or doc id -> graded label (in qrels). */
export type ScoreTable = ReadonlyMap<string, number> | Readonly<Record<string, number>>
/** query id -> doc id -> score. */
export type Run = ReadonlyMap<string, ScoreTable> | Readonly<Record<string, ScoreTable>>
/** query id -> doc id -> graded relevance label. */
export type Qrels = ReadonlyMap<string, ScoreTable> | Readonly<Record<string, ScoreTable>>

export type MetricName = `ndcg@${number}` | `recall@${number}` | `mrr@${number}`

export interface EvaluateOptions {
  /** Cutoffs for nDCG; default [10]. */
  ndcgAt?: readonly number[]
  /** Cutoffs for Recall; default [100]. */
  recallAt?: readonly number[]
  /** Cutoffs for MRR; default [10]. */
  mrrAt?: readonly number[]
}

export interface RunEvaluation {
  /** Mean of each metric over the evaluated queries; NaN when no query has a relevant judgment. */
  mean: Record<MetricName, number>
  /** Per evaluated query, in qrels order. */
  perQuery: Map<string, Record<MetricName, number>>
  /** How many queries the means are taken over. */
  queries: number
  /** Judged queries with no label > 0, left out of the means. */
  skippedNoRelevant: string[]
  /** Evaluated queries that the run has no entry for (scored 0). */
  missingFromRun: string[]
}

const entriesOf = <T>(table: ReadonlyMap<string, T> | Readonly<Record<string, T>>): Iterable<[string, T]> =>
  table instanceof Map ? table.entries() : Object.entries(table)

const lookup = <T>(table: ReadonlyMap<string, T> | Readonly<Record<string, T>>, key: string): T | undefined =>
  table instanceof Map ? table.get(key) : Object.hasOwn(table, key) ? (table as Record<string, T>)[key] : undefined

const labelOf = (labels: ScoreTable, docId: string): number => lookup(labels, docId) ?? 0

/** (doc id, score) pairs in trec_eval order: score descending, then id descending. */
export function rankEntries(scores: ScoreTable): [string, number][] {
  const pairs = [...entriesOf(scores)]
  for (const [docId, score] of pairs) {
    if (Number.isNaN(score)) throw new RangeError(`score of document '${docId}' is NaN; scores must be numbers`)
  }
  return pairs.sort(([idA, a], [idB, b]) => (a !== b ? b - a : idA < idB ? 1 : idA > idB ? -1 : 0))
}

/** Document ids in trec_eval order: score descending, then id descending. */
export const rankByScore = (scores: ScoreTable): string[] => rankEntries(scores).map(([docId]) => docId)

const discount = (rank: number): number => 1 / Math.log2(rank + 1)

function assertCutoff(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`cutoff k: ${k} is not allowed; k must be an integer >= 1`)
}

/** nDCG@k of one ranked list; 0 when the query has no relevant judgment. */
export function ndcgAtK(ranking: readonly string[], labels: ScoreTable, k: number): number {
  assertCutoff(k)
  const idealGains = [...entriesOf(labels)]
    .map(([, label]) => label)
    .filter((label) => label > 0)
    .sort((a, b) => b - a)
  let idcg = 0
  for (let i = 0; i < Math.min(k, idealGains.length); i++) idcg += idealGains[i]! * discount(i + 1)
  if (idcg === 0) return 0
  let dcg = 0
  for (let i = 0; i < Math.min(k, ranking.length); i++) {
    const gain = labelOf(labels, ranking[i]!)
    if (gain > 0) dcg += gain * discount(i + 1)
  }
  return dcg / idcg
}

/** Recall@k of one ranked list; 0 when the query has no relevant judgment. */
export function recallAtK(ranking: readonly string[], labels: ScoreTable, k: number): number {
  assertCutoff(k)
  let relevant = 0
  for (const [, label] of entriesOf(labels)) if (label > 0) relevant++
  if (relevant === 0) return 0
  let found = 0
  for (let i = 0; i < Math.min(k, ranking.length); i++) if (labelOf(labels, ranking[i]!) > 0) found++
  return found / relevant
}

/** Reciprocal rank of the first relevant document within the top k, else 0. */
export function reciprocalRankAtK(ranking: readonly string[], labels: ScoreTable, k: number): number {
  assertCutoff(k)
  for (let i = 0; i < Math.min(k, ranking.length); i++) if (labelOf(labels, ranking[i]!) > 0) return 1 / (i + 1)
  return 0
}

type Cutoffs = Required<EvaluateOptions>

function scoreQuery(ranking: readonly string[], labels: ScoreTable, cutoffs: Cutoffs): Record<MetricName, number> {
  const values = {} as Record<MetricName, number>
  for (const k of cutoffs.ndcgAt) values[`ndcg@${k}`] = ndcgAtK(ranking, labels, k)
  for (const k of cutoffs.recallAt) values[`recall@${k}`] = recallAtK(ranking, labels, k)
  for (const k of cutoffs.mrrAt) values[`mrr@${k}`] = reciprocalRankAtK(ranking, labels, k)
  return values
}

const metricNames = (cutoffs: Cutoffs): MetricName[] => [
  ...cutoffs.ndcgAt.map((k) => `ndcg@${k}` as const),
  ...cutoffs.recallAt.map((k) => `recall@${k}` as const),
  ...cutoffs.mrrAt.map((k) => `mrr@${k}` as const),
]

/**
 * Scores a whole run against qrels; see the module comment for the conventions.
 *
 * @example
 *   const { mean } = evaluateRun(run, await loadQrels(dir, 'test'), { ndcgAt: [10], recallAt: [100] })
 *   mean['ndcg@10'] // 0.6647
 */
export function evaluateRun(run: Run, qrels: Qrels, options: EvaluateOptions = {}): RunEvaluation {
  const cutoffs: Cutoffs = {
    ndcgAt: options.ndcgAt ?? [10],
    recallAt: options.recallAt ?? [100],
    mrrAt: options.mrrAt ?? [10],
  }
  for (const k of [...cutoffs.ndcgAt, ...cutoffs.recallAt, ...cutoffs.mrrAt]) assertCutoff(k)

  const perQuery = new Map<string, Record<MetricName, number>>()
  const skippedNoRelevant: string[] = []
  const missingFromRun: string[] = []
  for (const [queryId, labels] of entriesOf(qrels)) {
    if (![...entriesOf(labels)].some(([, label]) => label > 0)) {
      skippedNoRelevant.push(queryId)
      continue
    }
    const scores = lookup(run, queryId)
    if (scores === undefined) missingFromRun.push(queryId)
    const ranking = scores === undefined ? [] : rankByScore(scores)
    perQuery.set(queryId, scoreQuery(ranking, labels, cutoffs))
  }

  const mean = {} as Record<MetricName, number>
  for (const name of metricNames(cutoffs)) {
    let sum = 0
    for (const values of perQuery.values()) sum += values[name]!
    mean[name] = sum / perQuery.size
  }
  return { mean, perQuery, queries: perQuery.size, skippedNoRelevant, missingFromRun }
}
