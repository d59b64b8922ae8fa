import t from 'tap'
import { permutationByLogit, slidingWindowRerank, windowBounds, type WindowScorer } from '../../src/rerank/listwise/sliding-window.js'

/** Passage `p<k>` has hidden relevance k; the scorer reads it back, like a perfect listwise model. */
const relevanceOf = (text: string): number => Number(text.slice(1))
const perfectScorer: WindowScorer = async (_query, passages) => passages.map(relevanceOf)

/** A fixed shuffle of 0..n-1 (LCG), so the test is deterministic but the input order is not sorted. */
function shuffled(n: number, seed = 7): number[] {
  const out = Array.from({ length: n }, (_, i) => i)
  let state = seed
  for (let i = n - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31
    const j = state % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

t.test('windowBounds moves from the back to the front', async (t) => {
  t.same(windowBounds(30, 20, 10), [{ start: 10, end: 30 }, { start: 0, end: 20 }])
  t.same(windowBounds(25, 20, 10), [{ start: 5, end: 25 }, { start: 0, end: 15 }])
  t.same(windowBounds(50, 20, 10), [
    { start: 30, end: 50 },
    { start: 20, end: 40 },
    { start: 10, end: 30 },
    { start: 0, end: 20 },
  ])
  t.same(windowBounds(5, 20, 10), [{ start: 0, end: 5 }], 'a short list is one window')
  t.same(windowBounds(0, 20, 10), [])
  t.throws(() => windowBounds(30, 20, 0), RangeError)
  t.throws(() => windowBounds(30, 20, 21), /stride must be an integer in \[1, windowSize=20\]/)
  t.throws(() => windowBounds(30, 0, 1), /windowSize must be a positive integer/)
})

t.test('permutationByLogit sorts descending, stable, missing logits last in their old order', async (t) => {
  t.same(permutationByLogit([1, undefined, 3, undefined, 2]), [2, 4, 0, 1, 3])
  t.same(permutationByLogit([0.5, 0.5, 0.9]), [2, 0, 1], 'ties keep the previous order')
  t.same(permutationByLogit([Number.NaN, -Infinity, -1]), [2, 1, 0], 'NaN counts as missing; -Infinity is a real score')
  t.same(permutationByLogit([]), [])
})

t.test('30 passages, window 20, stride 10: the top 10 come out exactly in relevance order', async (t) => {
  // Worst-first input: the most relevant passage starts at the very bottom.
  const input = Array.from({ length: 30 }, (_, i) => `p${i}`)
  const { items, steps } = await slidingWindowRerank('q', input, (p) => p, perfectScorer)
  t.equal(items[0], 'p29', 'the best passage travels from position 29 to the top in one pass')
  t.same(items.slice(0, 10), ['p29', 'p28', 'p27', 'p26', 'p25', 'p24', 'p23', 'p22', 'p21', 'p20'])
  t.same(items.slice(10, 20), ['p9', 'p8', 'p7', 'p6', 'p5', 'p4', 'p3', 'p2', 'p1', 'p0'], 'the front window sorts the original top 10 below them')
  t.same(items.slice(20), ['p19', 'p18', 'p17', 'p16', 'p15', 'p14', 'p13', 'p12', 'p11', 'p10'], 'the back window left these behind')
  t.same(steps.map((s) => [s.start, s.end]), [[10, 30], [0, 20]])
  t.same(steps[0]!.items, input.slice(10, 30), 'each step records the window as it stood before reordering')
  t.same(steps[0]!.permutation, Array.from({ length: 20 }, (_, i) => 19 - i))
  t.same(steps[0]!.logits, Array.from({ length: 20 }, (_, i) => 10 + i))
})

t.test('a shuffled list: the true best 10 reach the top 10 in order, all items kept', async (t) => {
  const input = shuffled(30).map((k) => `p${k}`)
  const { items, steps, lastLogit, lastPlacement } = await slidingWindowRerank('q', input, (p) => p, perfectScorer, { windowSize: 20, stride: 10 })
  t.same(items.slice(0, 10), Array.from({ length: 10 }, (_, i) => `p${29 - i}`))
  t.same([...items].sort(), [...input].sort(), 'a permutation of the input')
  t.same(lastLogit, input.map(relevanceOf), 'every item was scored, and its last logit is reported by input index')
  input.forEach((p, i) => {
    const { step, slot } = lastPlacement[i]!
    t.equal(steps[step]!.items[slot], p, `${p}: its placement points at it in the last window that scored it`)
    t.notOk(steps.slice(step + 1).some((s) => s.items.includes(p)), `${p}: no later window saw it`)
  })
})

t.test('passages the scorer has no logit for keep their relative order behind the scored ones', async (t) => {
  const input = ['p1', 'p5', 'p2', 'p9', 'p3']
  // Only odd positions are reported, like identifiers missing from a remote top-k list.
  const partial: WindowScorer = async (_q, passages) => passages.map((p, i) => (i % 2 === 1 ? relevanceOf(p) : undefined))
  const { items, steps, lastLogit, lastPlacement } = await slidingWindowRerank('q', input, (p) => p, partial)
  t.same(items, ['p9', 'p5', 'p1', 'p2', 'p3'])
  t.same(steps[0]!.permutation, [3, 1, 0, 2, 4])
  t.same(lastLogit, [undefined, 5, undefined, 9, undefined])
  t.same(lastPlacement, [undefined, { step: 0, slot: 1 }, undefined, { step: 0, slot: 3 }, undefined], 'placed only where a logit came back')
})

t.test('topM limits the reranked prefix; the tail keeps its order', async (t) => {
  const input = ['p1', 'p2', 'p3', 'p9', 'p8']
  const { items } = await slidingWindowRerank('q', input, (p) => p, perfectScorer, { topM: 3 })
  t.same(items, ['p3', 'p2', 'p1', 'p9', 'p8'])
})

t.test('the query reaches the scorer, a wrong-length answer and an abort reject', async (t) => {
  const seen: string[] = []
  await slidingWindowRerank('what is hnsw', ['p1'], (p) => p, async (q, passages) => (seen.push(q), passages.map(relevanceOf)))
  t.same(seen, ['what is hnsw'])
  await t.rejects(
    slidingWindowRerank('q', ['p1', 'p2'], (p) => p, async () => [1]),
    /scoreWindow returned 1 logits for a window of 2 passages/,
  )
  const controller = new AbortController()
  controller.abort(new Error('client went away'))
  await t.rejects(slidingWindowRerank('q', ['p1'], (p) => p, perfectScorer, { signal: controller.signal }), /client went away/)
})
