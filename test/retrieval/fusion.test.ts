import t, { type Test } from 'tap'
import { minMaxNormalize, reciprocalRankFusion, weightedScoreFusion } from '../../src/retrieval/fusion.js'

const lists = {
  dense: [{ id: 'a', score: 0.9 }, { id: 'b', score: 0.5 }, { id: 'c', score: 0.1 }],
  lexical: [{ id: 'b', score: 10 }, { id: 'd', score: 6 }, { id: 'a', score: 2 }],
}
const close = (t: Test, actual: number, expected: number, msg: string) =>
  t.ok(Math.abs(actual - expected) < 1e-12, `${msg}: ${actual} ~ ${expected}`)

t.test('RRF with k = 60 matches the hand computation', async (t) => {
  const fused = reciprocalRankFusion(lists)
  t.same(fused.map((hit) => hit.id), ['b', 'a', 'd', 'c'])
  // b: 1/62 + 1/61, a: 1/61 + 1/63, d: 1/62, c: 1/63
  close(t, fused[0]!.score, 1 / 62 + 1 / 61, 'b')
  close(t, fused[1]!.score, 1 / 61 + 1 / 63, 'a')
  close(t, fused[2]!.score, 1 / 62, 'd')
  close(t, fused[3]!.score, 1 / 63, 'c')
  t.same(fused[0]!.sources, { dense: { rank: 2, score: 0.5 }, lexical: { rank: 1, score: 10 } }, 'per-retriever rank and raw score')
  t.same(fused[2]!.sources, { lexical: { rank: 2, score: 6 } }, 'absent retrievers are absent')
})

t.test('RRF k and weights', async (t) => {
  const k1 = reciprocalRankFusion(lists, { k: 1 })
  t.same(k1.map((hit) => [hit.id, hit.score]), [['b', 1 / 3 + 1 / 2], ['a', 1 / 2 + 1 / 4], ['d', 1 / 3], ['c', 1 / 4]])
  // a: 2/61 + 1/63 = 0.0486599 beats b: 2/62 + 1/61 = 0.0486515
  const weighted = reciprocalRankFusion(lists, { weights: { dense: 2 } })
  t.same(weighted.map((hit) => hit.id), ['a', 'b', 'c', 'd'])
  close(t, weighted[0]!.score, 2 / 61 + 1 / 63, 'a')
  t.same(reciprocalRankFusion(lists, { limit: 2 }).map((hit) => hit.id), ['b', 'a'])
  t.throws(() => reciprocalRankFusion(lists, { k: -1 }), { code: 'invalid_value' })
  t.throws(() => reciprocalRankFusion(lists, { weights: { sparse: 1 } }), { code: 'invalid_value', message: /'dense', 'lexical'/ })
  t.throws(() => reciprocalRankFusion(lists, { weights: { dense: -1 } }), { code: 'invalid_value' })
})

t.test('ties break by best rank, then id; duplicate ids keep their first rank', async (t) => {
  const fused = reciprocalRankFusion({ x: [{ id: 'q', score: 1 }], y: [{ id: 'p', score: 1 }] })
  t.same(fused.map((hit) => hit.id), ['p', 'q'])
  const dup = reciprocalRankFusion({ x: [{ id: 'p', score: 3 }, { id: 'p', score: 2 }, { id: 'r', score: 1 }] })
  t.same(dup.map((hit) => [hit.id, hit.sources.x!.rank]), [['p', 1], ['r', 2]], 'r is second, not third')
  t.same(reciprocalRankFusion({}), [])
  t.same(reciprocalRankFusion({ x: [] }), [])
})

t.test('weighted min-max score fusion matches the hand computation', async (t) => {
  // dense -> a 1, b 0.5, c 0; lexical -> b 1, d 0.5, a 0
  const equal = weightedScoreFusion(lists)
  t.same(equal.map((hit) => [hit.id, hit.score]), [['b', 1.5], ['a', 1], ['d', 0.5], ['c', 0]])
  const weighted = weightedScoreFusion(lists, { weights: { dense: 0.7, lexical: 0.3 } })
  t.same(weighted.map((hit) => hit.id), ['a', 'b', 'd', 'c'])
  close(t, weighted[1]!.score, 0.7 * 0.5 + 0.3 * 1, 'b')
  t.same(weighted[1]!.sources, { dense: { rank: 2, score: 0.5 }, lexical: { rank: 1, score: 10 } })
})

t.test('minMaxNormalize', async (t) => {
  t.same(minMaxNormalize([3, 1, 2]), [1, 0, 0.5])
  t.same(minMaxNormalize([-2, -4]), [1, 0], 'negative scores (e.g. raw bm25())')
  t.same(minMaxNormalize([5, 5]), [1, 1], 'a flat list is all best')
  t.same(minMaxNormalize([]), [])
  t.throws(() => minMaxNormalize([1, Number.NaN]), { code: 'invalid_value' })
})
