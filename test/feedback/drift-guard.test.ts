import t, { type Test } from 'tap'
import { guardAgainstDrift, rankBiasedOverlap } from '../../src/feedback/drift-guard.js'

const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`)
const original = range('o', 1, 10)
const close = (t: Test, actual: number, expected: number, msg: string) =>
  t.ok(Math.abs(actual - expected) < 1e-12, `${msg}: ${actual} ~ ${expected}`)

t.test('rank-biased overlap', async (t) => {
  close(t, rankBiasedOverlap(original, original, 0.9, 10), 1, 'identical')
  close(t, rankBiasedOverlap(original, range('x', 1, 10), 0.9, 10), 0, 'disjoint')
  // A_1 = 0, A_2 = 2/2, A_3 = 2/3; p = 0.5: (0.5 x 1 + 0.25 x 2/3) x 0.5 / (1 - 0.125)
  close(t, rankBiasedOverlap(['a', 'b', 'c'], ['b', 'a', 'd'], 0.5, 3), ((0.5 + 0.25 * (2 / 3)) * 0.5) / 0.875, 'hand-computed, p = 0.5')
  close(t, rankBiasedOverlap(['a', 'b', 'c'], ['b', 'a', 'd'], 1, 3), (0 + 1 + 2 / 3) / 3, 'p = 1 is mean overlap')
  close(t, rankBiasedOverlap(['a', 'b'], ['b', 'a'], 0.9, 2), rankBiasedOverlap(['b', 'a'], ['a', 'b'], 0.9, 2), 'symmetric')
  t.ok(rankBiasedOverlap(['a'], ['a', 'b'], 0.9, 2) < 1, 'a short list cannot fully agree')
})

t.test('keeps the most consistent revision and rejects a drifting one', async (t) => {
  const revisions: Record<number, string[]> = {
    1: [...range('o', 1, 9), 'n1'],
    3: [...range('o', 1, 8), 'n1', 'n2'],
    5: ['o1', 'o2', 'n1', 'o3', 'o4', 'n2', 'o5', 'o6', 'o7', 'n3'],
    10: range('drift', 1, 10),
  }
  const calls: number[] = []
  const decision = await guardAgainstDrift(original, async (depth) => {
    calls.push(depth)
    return revisions[depth]!
  })
  t.same(calls.sort((a, b) => a - b), [1, 3, 5, 10], 'each depth runs once')
  const byDepth = Object.fromEntries(decision.revisions.map((r) => [r.depth, r]))
  t.notOk(byDepth[10]!.trusted, 'depth 10 lost the original top 10')
  t.equal(byDepth[10]!.preservation, 0)
  t.equal(byDepth[10]!.novelty, 10)
  t.notOk(byDepth[5]!.trusted, 'depth 5 disagrees with its deeper neighbour')
  t.ok(byDepth[1]!.trusted && byDepth[3]!.trusted, 'small, consistent changes are trusted')
  t.ok(byDepth[1]!.consistency > byDepth[3]!.consistency)
  t.equal(decision.chosen, 1)
  t.same(decision.ranking, revisions[1])
  t.match(decision.reason, /^depth 1: preservation 0\.99\d, agreement 0\.98\d with adjacent depths, 1 new of the top 10$/)
})

t.test('a noisy shallow revision loses to deeper ones that agree; ties go deeper', async (t) => {
  const settled = [...range('o', 1, 9), 'n1']
  const decision = await guardAgainstDrift(original, async (depth) => (depth === 1 ? ['x1', 'x2', ...range('o', 1, 8)] : settled))
  const byDepth = Object.fromEntries(decision.revisions.map((r) => [r.depth, r]))
  t.notOk(byDepth[1]!.trusted, 'one feedback document reshuffled the top')
  t.equal(byDepth[5]!.consistency, byDepth[10]!.consistency)
  t.equal(decision.chosen, 10)
})

t.test('falls back to the original when nothing is trustworthy', async (t) => {
  const drifting = await guardAgainstDrift(original, async (depth) => range(`d${depth}-`, 1, 10))
  t.equal(drifting.chosen, 'original')
  t.same(drifting.ranking, original)
  t.match(drifting.reason, /^no revision is trustworthy: depth 1 preservation 0\.000 < 0\.8, agreement 0\.000 < 0\.8;/)
  const unchanged = await guardAgainstDrift(original, async () => original)
  t.equal(unchanged.chosen, 'original', 'a revision that adds nothing is not chosen')
  t.match(unchanged.reason, /adds no new document/)
})

t.test('a single depth has nothing to disagree with; depths are deduplicated', async (t) => {
  const one = await guardAgainstDrift(original, async () => [...range('o', 1, 9), 'n1'], { depths: [5] })
  t.equal(one.chosen, 5)
  t.equal(one.revisions[0]!.agreement, 1)
  const same = [...range('o', 1, 9), 'n1']
  const tie = await guardAgainstDrift(original, async () => same, { depths: [10, 2, 2] })
  t.same(tie.revisions.map((r) => r.depth), [2, 10], 'depths are deduplicated and sorted')
  t.equal(tie.chosen, 10)
})

t.test('invalid options throw', async (t) => {
  const run = async () => original
  await t.rejects(guardAgainstDrift(original, run, { depths: [] }), { code: 'invalid_value' })
  await t.rejects(guardAgainstDrift(original, run, { depths: [0] }), { code: 'invalid_value' })
  await t.rejects(guardAgainstDrift(original, run, { k: 0 }), { code: 'invalid_value' })
  await t.rejects(guardAgainstDrift(original, run, { persistence: 0 }), { code: 'invalid_value' })
  await t.rejects(guardAgainstDrift(original, run, { minAgreement: 1.5 }), { code: 'invalid_value' })
  await t.rejects(guardAgainstDrift(original, async () => { throw new Error('model down') }), /model down/, 'a failing revision propagates')
})
