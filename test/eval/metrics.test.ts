import t from 'tap'
import { evaluateRun, ndcgAtK, rankByScore, recallAtK, reciprocalRankAtK } from '../../src/eval/metrics.js'

const close = (t: { ok(value: boolean, message: string): unknown }, actual: number, expected: number, message: string) =>
  t.ok(Math.abs(actual - expected) < 1e-12, `${message}: ${actual} ~ ${expected}`)

// Shared hand-worked fixture. log2(2) = 1, log2(3) = 1.5849625007, log2(4) = 2.
//
// q1 (graded; a relevant doc not retrieved): labels d1=3 d2=2 d3=1 d4=0
//   run d2 .9, d4 .8, d1 .7, d5 .6  -> ranks d2=1 d4=2 d1=3 d5=4; d3 never retrieved
//   DCG@3  = 2/log2(2) + 0/log2(3) + 3/log2(4)        = 2 + 0 + 1.5          = 3.5
//   IDCG@3 = 3/log2(2) + 2/log2(3) + 1/log2(4)        = 3 + 1.2618595 + 0.5  = 4.7618595071
//   nDCG@3 = 3.5 / 4.7618595071 = 0.7350069851; @10 the same (ranks 4.. add no gain, ideal has 3 docs)
//   Recall@3 = |{d2, d1}| / |{d1, d2, d3}| = 2/3; Recall@2 = 1/3;  MRR@10 = 1/1
// q2 (fewer relevant docs than k): labels e1=1;  run x 5, y 4, e1 3 -> e1 at rank 3
//   nDCG@10 = (1/log2(4)) / (1/log2(2)) = 0.5;  Recall@10 = 1;  Recall@2 = 0;  MRR@10 = 1/3;  MRR@2 = 0
// q3 (ties): labels a=1;  run a, b, c all 1.0 -> trec_eval breaks ties by doc id descending: c, b, a
//   a at rank 3: nDCG@10 = 0.5;  MRR@10 = 1/3   (ascending ids would put a first and give 1)
// q4 (no relevant judgment): labels z=0 -> skipped, not averaged
// Means over q1..q3: nDCG@10 = (0.7350069851 + 0.5 + 0.5) / 3 = 0.5783356617
//                    MRR@10  = (1 + 1/3 + 1/3) / 3 = 0.5555555556;  Recall@10 = (2/3 + 1 + 1) / 3 = 0.8888888889
// pytrec_eval 0.5.11 gives the same per-query numbers for this fixture (ndcg_cut_3 q1 = 0.7350069851388743).
const qrels = new Map([
  ['q1', new Map([['d1', 3], ['d2', 2], ['d3', 1], ['d4', 0]])],
  ['q2', new Map([['e1', 1]])],
  ['q3', new Map([['a', 1]])],
  ['q4', new Map([['z', 0]])],
])
const run: Record<string, Record<string, number>> = {
  q1: { d2: 0.9, d4: 0.8, d1: 0.7, d5: 0.6 },
  q2: { x: 5, y: 4, e1: 3 },
  q3: { a: 1, b: 1, c: 1 },
  q4: { z: 1 },
}
const IDCG_Q1 = 3 + 2 / Math.log2(3) + 0.5

t.test('ties are broken by doc id descending, higher scores first', async (t) => {
  t.same(rankByScore({ a: 1, b: 1, c: 1 }), ['c', 'b', 'a'])
  t.same(rankByScore(new Map([['a', 2], ['z', 1], ['m', 1]])), ['a', 'z', 'm'])
  // Ids compare as strings, as strcmp does: '10' < '9'.
  t.same(rankByScore({ '9': 0, '10': 0, '100': 0 }), ['9', '100', '10'])
  t.throws(() => rankByScore({ a: Number.NaN }), /NaN/)
})

t.test('nDCG@k with graded gains and an unretrieved relevant doc (q1)', async (t) => {
  const ranking = rankByScore(run.q1!)
  close(t, ndcgAtK(ranking, qrels.get('q1')!, 3), 3.5 / IDCG_Q1, 'nDCG@3')
  close(t, ndcgAtK(ranking, qrels.get('q1')!, 3), 0.7350069851388743, 'nDCG@3 as pytrec_eval')
  close(t, ndcgAtK(ranking, qrels.get('q1')!, 10), 3.5 / IDCG_Q1, 'nDCG@10')
  // Cut at 1: DCG = 2, IDCG = 3.
  close(t, ndcgAtK(ranking, qrels.get('q1')!, 1), 2 / 3, 'nDCG@1')
})

t.test('Recall@k divides by every relevant judged doc (q1)', async (t) => {
  const ranking = rankByScore(run.q1!)
  close(t, recallAtK(ranking, qrels.get('q1')!, 2), 1 / 3, 'Recall@2')
  close(t, recallAtK(ranking, qrels.get('q1')!, 3), 2 / 3, 'Recall@3')
  close(t, recallAtK(ranking, qrels.get('q1')!, 100), 2 / 3, 'Recall@100 stays below 1: d3 was not retrieved')
})

t.test('fewer relevant docs than k (q2)', async (t) => {
  const ranking = rankByScore(run.q2!)
  const labels = qrels.get('q2')!
  close(t, ndcgAtK(ranking, labels, 10), 0.5, 'nDCG@10')
  t.equal(recallAtK(ranking, labels, 10), 1)
  t.equal(recallAtK(ranking, labels, 2), 0)
  close(t, reciprocalRankAtK(ranking, labels, 10), 1 / 3, 'MRR@10')
  t.equal(reciprocalRankAtK(ranking, labels, 2), 0, 'first relevant beyond k gives 0')
})

t.test('labels <= 0 give no gain and do not count as relevant', async (t) => {
  // ranking n (label -1), r (label 2): DCG@2 = 0 + 2/log2(3); IDCG@2 = 2/1 -> 1/log2(3) = 0.6309297536
  const labels = { n: -1, r: 2, z: 0 }
  close(t, ndcgAtK(['n', 'r'], labels, 2), 1 / Math.log2(3), 'nDCG@2')
  t.equal(recallAtK(['n', 'z'], labels, 2), 0)
  t.equal(reciprocalRankAtK(['n', 'z', 'r'], labels, 10), 1 / 3)
})

t.test('evaluateRun: means over queries with a relevant judgment', async (t) => {
  const result = evaluateRun(run, qrels, { ndcgAt: [10, 3], recallAt: [10], mrrAt: [10] })
  t.equal(result.queries, 3)
  t.same(result.skippedNoRelevant, ['q4'])
  t.same(result.missingFromRun, [])
  t.same([...result.perQuery.keys()], ['q1', 'q2', 'q3'])
  close(t, result.perQuery.get('q3')!['mrr@10']!, 1 / 3, 'q3 MRR@10 (tie order c, b, a)')
  close(t, result.mean['ndcg@10']!, (3.5 / IDCG_Q1 + 0.5 + 0.5) / 3, 'mean nDCG@10')
  close(t, result.mean['ndcg@10']!, 0.5783356617129581, 'mean nDCG@10 literal')
  close(t, result.mean['mrr@10']!, (1 + 1 / 3 + 1 / 3) / 3, 'mean MRR@10')
  close(t, result.mean['recall@10']!, (2 / 3 + 1 + 1) / 3, 'mean Recall@10')
  t.same(Object.keys(result.mean), ['ndcg@10', 'ndcg@3', 'recall@10', 'mrr@10'])
})

t.test('evaluateRun: a judged query absent from the run scores 0', async (t) => {
  const withMissing = new Map([...qrels, ['q5', new Map([['m', 2]])]])
  const result = evaluateRun(run, withMissing)
  t.same(result.missingFromRun, ['q5'])
  t.equal(result.queries, 4)
  t.same(result.perQuery.get('q5'), { 'ndcg@10': 0, 'recall@100': 0, 'mrr@10': 0 })
  close(t, result.mean['ndcg@10']!, (3.5 / IDCG_Q1 + 0.5 + 0.5 + 0) / 4, 'mean nDCG@10 over 4 queries')
})

t.test('evaluateRun: run queries without judgments are ignored; Map runs work too', async (t) => {
  const mapRun = new Map(Object.entries(run).map(([q, scores]) => [q, new Map(Object.entries(scores))]))
  mapRun.set('unjudged', new Map([['d1', 1]]))
  const result = evaluateRun(mapRun, qrels, { ndcgAt: [10] })
  t.equal(result.queries, 3)
  close(t, result.mean['ndcg@10']!, 0.5783356617129581, 'mean nDCG@10')
})

t.test('invalid cutoffs are rejected; an empty evaluation is NaN', async (t) => {
  t.throws(() => evaluateRun(run, qrels, { ndcgAt: [0] }), /cutoff k: 0/)
  t.throws(() => ndcgAtK([], {}, 2.5), RangeError)
  t.ok(Number.isNaN(evaluateRun(run, { q4: { z: 0 } }).mean['ndcg@10']))
})
