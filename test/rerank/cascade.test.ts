import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { Candidate } from '../../src/candidate.js'
import { runCascade } from '../../src/rerank/cascade.js'
import { createReranker } from '../../src/rerank/registry.js'
import type { RankOptions, RankOutcome, Reranker } from '../../src/rerank/reranker.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

const input: Candidate[] = Array.from({ length: 8 }, (_, i) => ({
  id: `d${i}`,
  text: `passage ${i}`,
  score: 1 - i / 10,
  scores: { fused: 1 - i / 10 },
}))

/** A stand-in stage: orders by the number in the passage (ascending or descending), after `work`. */
function numberOrderStage(name: string, direction: 1 | -1, work: (signal?: AbortSignal) => Promise<void> = async () => {}): Reranker {
  return {
    name,
    scoreKey: 'cross_encoder',
    async rank(_query: string, candidates: Candidate[], options: RankOptions = {}): Promise<RankOutcome> {
      await work(options.signal)
      const scored = candidates.map((c) => {
        const value = direction * Number(c.text.split(' ')[1])
        return { ...c, score: value, scores: { ...c.scores, cross_encoder: value } }
      })
      scored.sort((a, b) => b.score - a.score)
      return { candidates: scored.slice(0, options.topN), truncatedPassages: 1 }
    },
    async dispose() {},
  }
}

const ids = (candidates: readonly Candidate[]) => candidates.map((c) => c.id)

t.test('real stages chain as a fold: cross-encoder top 5, then listwise top 3', async (t: Test) => {
  const ce = await createReranker('cross-encoder', { modelDir: await fixtureModelDir('tiny-cross-encoder') })
  const listwise = await createReranker('listwise-onnx', { modelDir: await fixtureModelDir('tiny-causal-lm') })
  t.teardown(() => Promise.all([ce.dispose(), listwise.dispose()]))
  const out = await runCascade('passage', input, [{ reranker: ce, topN: 5 }, { reranker: listwise, topN: 3 }], { budgetMs: 60_000 })
  t.equal(out.degraded, false)
  t.equal(out.reason, undefined)
  t.equal(out.candidates.length, 3)
  for (const c of out.candidates) {
    t.type(c.scores.cross_encoder, 'number', 'cross-encoder raw score kept')
    t.type(c.scores.listwise, 'number', 'listwise raw score added')
    t.type(c.scores.fused, 'number', 'retrieval score kept')
  }
  t.match(out.stages, [
    { name: ce.name, scoreKey: 'cross_encoder', status: 'ok', inputCount: 8, outputCount: 5 },
    { name: listwise.name, scoreKey: 'listwise', status: 'ok', inputCount: 5, outputCount: 3, windows: [{ start: 0, end: 5 }] },
  ])
  const ceOrder = (await ce.rank('passage', input, { topN: 5 })).candidates
  t.same(new Set(ids(out.candidates)).size, 3)
  t.ok(ids(out.candidates).every((id) => ids(ceOrder).includes(id)), 'the listwise stage only saw the cross-encoder top 5')
  t.ok(out.stages.every((s) => s.ms >= 0) && out.ms >= out.stages[0]!.ms)
})

t.test('a failing stage is skipped: degraded, its cut applied, later stages still run', async (t) => {
  const boom: Reranker = { ...numberOrderStage('boom', 1), rank: async () => Promise.reject(new Error('kaput')) }
  const out = await runCascade('q', input, [
    { reranker: numberOrderStage('descending', 1), topN: 6 },
    { reranker: boom, topN: 4 },
    { reranker: numberOrderStage('ascending', -1), topN: 3 },
  ])
  t.equal(out.degraded, true)
  t.equal(out.reason, "stage 'boom' failed: kaput")
  t.same(out.stages.map((s) => [s.name, s.status, s.inputCount, s.outputCount]), [
    ['descending', 'ok', 8, 6],
    ['boom', 'failed', 6, 4],
    ['ascending', 'ok', 4, 3],
  ])
  t.same(ids(out.candidates), ['d4', 'd5', 'd6'], 'the last stage reordered the best order so far (d7..d4)')
  t.same(
    out.candidates.map((c) => c.rerankScores),
    [4, 5, 6].map((n) => [
      { model: 'descending', stage: 'cross_encoder', score: n },
      { model: 'ascending', stage: 'cross_encoder', score: -n },
    ]),
    'rerankScores: one entry per stage that ran, in order (none for the failed stage), both scores of one kind kept',
  )
  t.equal(input[0]!.rerankScores, undefined, 'the input candidates are not changed')
})

t.test('a spent budget skips the remaining stages and returns the best order so far', async (t) => {
  const out = await runCascade(
    'q',
    input,
    [
      { reranker: numberOrderStage('slow', 1, () => sleep(60)), topN: 5 },
      { reranker: numberOrderStage('never', -1), topN: 2 },
    ],
    { budgetMs: 30 },
  )
  t.equal(out.degraded, true)
  t.match(out.reason, /^budget of 30 ms spent after \d+(\.\d+)? ms, before stage 'never'$/)
  t.match(out.stages[1], { status: 'skipped', ms: 0, inputCount: 5, outputCount: 2 })
  t.same(ids(out.candidates), ['d7', 'd6'], "the slow stage's order, cut to the skipped stage's topN")
  t.equal(out.candidates[0]!.scores.cross_encoder, 7)
})

t.test('a running stage gets the remaining budget as its abort signal', async (t) => {
  const began = performance.now()
  const hanging = numberOrderStage('hanging', -1, (signal) => sleep(5_000, undefined, { signal }))
  const out = await runCascade('q', input, [{ reranker: hanging, topN: 3 }], { budgetMs: 50 })
  t.ok(performance.now() - began < 1_000, 'cut off near the budget, not after 5 s')
  t.equal(out.reason, "stage 'hanging' ran past the budget of 50 ms and was cut off")
  t.same(ids(out.candidates), ['d0', 'd1', 'd2'], 'retrieval order, cut')
})

t.test("the caller's abort is not a stage failure: it rejects", async (t) => {
  const controller = new AbortController()
  const stage = numberOrderStage('waits', 1, async (signal) => {
    controller.abort(new Error('client closed the connection'))
    signal?.throwIfAborted()
  })
  await t.rejects(runCascade('q', input, [{ reranker: stage, topN: 3 }], { signal: controller.signal }), /client closed the connection/)
})

t.test('no stages: the input comes back as is', async (t) => {
  const out = await runCascade('q', input, [])
  t.same(out.candidates, input)
  t.not(out.candidates, input, 'a copy')
  t.equal(out.degraded, false)
  t.same(out.stages, [])
})

/** A stand-in stage that ranks its candidates in a fixed order of ids (raw score: higher is better). */
function fixedOrderStage(name: string, order: readonly string[]): Reranker {
  return {
    name,
    scoreKey: 'cross_encoder',
    async rank(_query: string, candidates: Candidate[], options: RankOptions = {}): Promise<RankOutcome> {
      const scored = candidates.map((c) => ({ ...c, score: -order.indexOf(c.id), scores: { ...c.scores, cross_encoder: -order.indexOf(c.id) } }))
      scored.sort((a, b) => b.score - a.score)
      return { candidates: scored.slice(0, options.topN), truncatedPassages: 0 }
    },
    async dispose() {},
  }
}

t.test("fusion 'rrf' orders by the reciprocal rank fusion of the chain's rankings, back to the last unfused stage", async (t: Test) => {
  const a = ['d3', 'd1', 'd4', 'd0', 'd6', 'd2', 'd7', 'd5']
  const b = ['d0', 'd2', 'd4', 'd6', 'd1', 'd3', 'd5', 'd7']
  const c = ['d5', 'd6', 'd7', 'd0', 'd1', 'd2', 'd3', 'd4']
  const out = await runCascade('q', input, [
    { reranker: fixedOrderStage('a', a), topN: 8 },
    { reranker: fixedOrderStage('b', b), topN: 6, fusion: 'rrf' },
    { reranker: fixedOrderStage('c', c), topN: 3, fusion: 'rrf' },
  ])
  // Independently: b sees a's 8 and keeps the best 6 by 1/(60+rank_a) + 1/(60+rank_b); c adds its rank among those 6.
  const rank = (order: readonly string[], among: readonly string[]) => (id: string) => order.filter((x) => among.includes(x)).indexOf(id) + 1
  const all = input.map((x) => x.id)
  const ab = (id: string) => 1 / (60 + rank(a, all)(id)) + 1 / (60 + rank(b, all)(id))
  const six = [...all].sort((x, y) => ab(y) - ab(x)).slice(0, 6)
  const abc = (id: string) => ab(id) + 1 / (60 + rank(c, six)(id))
  const expected = [...six].sort((x, y) => abc(y) - abc(x)).slice(0, 3)
  t.same(ids(out.candidates), expected, `three-way RRF of a, b, c: ${expected.join(', ')}`)
  t.not(ids(out.candidates).join(), c.filter((id) => six.includes(id)).slice(0, 3).join(), 'not the last stage alone')
  out.candidates.forEach((x) => {
    t.equal(x.score, abc(x.id), `${x.id}: score is the fused sum`)
    t.equal(x.scores.cross_encoder, -c.indexOf(x.id), `${x.id}: the last stage's raw score is kept`)
  })
  t.match(out.stages, [{ name: 'a', status: 'ok' }, { name: 'b', fusion: 'rrf', outputCount: 6 }, { name: 'c', fusion: 'rrf', outputCount: 3 }])
  t.equal(out.stages[0]!.fusion, undefined)

  // Without the unfused stage a, the chain starts at the retrieval order (d0..d7).
  const fromRetrieval = await runCascade('q', input, [{ reranker: fixedOrderStage('c', c), topN: 8, fusion: 'rrf' }])
  const retrievalRank = (id: string) => all.indexOf(id) + 1
  const rc = (id: string) => 1 / (60 + retrievalRank(id)) + 1 / (60 + rank(c, all)(id))
  t.same(ids(fromRetrieval.candidates), [...all].sort((x, y) => rc(y) - rc(x)), 'a fused first stage fuses with the retrieval order')
})

t.test('a failed fused stage keeps the order before it and the chain goes on', async (t: Test) => {
  const broken: Reranker = { name: 'broken', scoreKey: 'cross_encoder', rank: async () => Promise.reject(new Error('boom')), dispose: async () => {} }
  const out = await runCascade('q', input, [
    { reranker: broken, topN: 6, fusion: 'rrf' },
    { reranker: fixedOrderStage('c', ['d7', 'd6', 'd5', 'd4', 'd3', 'd2', 'd1', 'd0']), topN: 6, fusion: 'rrf' },
  ])
  t.equal(out.degraded, true)
  t.match(out.reason, /broken/)
  // c sees d0..d5 and fuses with the retrieval order: d0 and d5 tie on 1/61 + 1/66 (c's order breaks
  // the tie), ahead of d4/d1 (1/62 + 1/65) and d3/d2 (1/63 + 1/64).
  t.same(ids(out.candidates), ['d5', 'd0', 'd4', 'd1', 'd3', 'd2'])
})
