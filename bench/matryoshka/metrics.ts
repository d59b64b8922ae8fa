/**
 * nDCG@k, Recall@k and MRR@k with trec_eval's conventions (as `npm run eval` computes them): documents
 * ordered by score descending, ties by doc id descending; nDCG gain = graded label, ideal DCG from the
 * query's judged labels; Recall's denominator counts every relevant judged document; queries without a
 * relevant judgment are skipped; a judged query missing from the run scores 0.
 */
export type Ranked = [docId: string, score: number][]

const order = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)

export function scoreRun(
  run: Map<string, Ranked>,
  qrels: Map<string, Map<string, number>>,
  at = { ndcg: 10, recall: 100, mrr: 10 },
): { ndcg: number; recall: number; mrr: number; queries: number; perQueryNdcg: Map<string, number> } {
  let ndcg = 0
  let recall = 0
  let mrr = 0
  let n = 0
  const perQueryNdcg = new Map<string, number>()
  for (const [q, labels] of qrels) {
    const relevant = [...labels.values()].filter((l) => l > 0).length
    if (relevant === 0) continue
    n++
    const ranked = [...(run.get(q) ?? [])].sort(order)
    let dcg = 0
    ranked.slice(0, at.ndcg).forEach(([d], i) => {
      const g = labels.get(d) ?? 0
      if (g > 0) dcg += g / Math.log2(i + 2)
    })
    const ideal = [...labels.values()].filter((l) => l > 0).sort((a, b) => b - a).slice(0, at.ndcg)
    const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0)
    const qn = idcg > 0 ? dcg / idcg : 0
    perQueryNdcg.set(q, qn)
    ndcg += qn
    recall += ranked.slice(0, at.recall).filter(([d]) => (labels.get(d) ?? 0) > 0).length / relevant
    const first = ranked.slice(0, at.mrr).findIndex(([d]) => (labels.get(d) ?? 0) > 0)
    mrr += first < 0 ? 0 : 1 / (first + 1)
  }
  return { ndcg: ndcg / n, recall: recall / n, mrr: mrr / n, queries: n, perQueryNdcg }
}
