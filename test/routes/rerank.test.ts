import t, { type Test } from 'tap'
import { buildTestApp, fixtureModelsDir } from '../helpers/app.js'
import { readGolden } from '../helpers/fixture-models.js'

const CE = 'test/tiny-cross-encoder'
const LM = 'test/tiny-causal-lm'

async function rerankApp(t: Test, overrides = {}) {
  const modelsDir = await fixtureModelsDir(['tiny-bert-mean', 'tiny-cross-encoder', 'tiny-causal-lm'])
  return buildTestApp(t, { modelsDir, rerankStages: `${CE}:20,${LM}:5`, ...overrides })
}

interface CrossGolden {
  cases: { query: string; passage: string; logits: number[] }[]
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

t.test('POST /v1/rerank scores like the PyTorch golden and answers in the Cohere/TEI shape with relevance in 0..1', async (t) => {
  const { app } = await rerankApp(t)
  const golden = readGolden('tiny-cross-encoder') as unknown as CrossGolden
  const cases = golden.cases.filter((c) => c.query === 'capital of france')
  const res = await app.inject({
    method: 'POST',
    url: '/v1/rerank',
    payload: { query: 'capital of france', documents: [cases[0]!.passage, { id: 'eiffel', text: cases[1]!.passage }], return_documents: true },
  })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.model, CE, 'the first configured stage is the default model')
  t.equal(body.relevance, 'sigmoid', 'no calibrator is fitted: the logit is read through a sigmoid')
  type Result = { index: number; score: number; relevance_score: number; raw_score: number; id?: string; document?: { text: string } }
  const byIndex = new Map<number, Result>(body.results.map((r: Result) => [r.index, r]))
  for (const i of [0, 1]) {
    const r = byIndex.get(i)!
    const logit = cases[i]!.logits[0]!
    t.ok(Math.abs(r.raw_score - logit) < 1e-4, `document ${i}: raw_score is the golden logit`)
    t.ok(Math.abs(r.relevance_score - sigmoid(logit)) < 1e-4, `document ${i}: relevance_score is sigmoid(logit)`)
    t.equal(r.score, r.relevance_score, `document ${i}: score (TEI's name) equals relevance_score`)
  }
  t.ok(body.results[0].raw_score >= body.results[1].raw_score, 'sorted best first')
  t.ok(body.results[0].relevance_score >= body.results[1].relevance_score, 'relevance keeps the order')
  t.equal(byIndex.get(1)!.id, 'eiffel', 'ids of object documents are echoed')
  t.equal(byIndex.get(1)!.document!.text, cases[1]!.passage)

  const top1 = (await app.inject({ method: 'POST', url: '/v1/rerank', payload: { query: 'q', documents: ['a b', 'c d', 'e f'], top_n: 1 } })).json()
  t.equal(top1.results.length, 1)
  t.notOk('document' in top1.results[0], 'no documents unless asked')
})

t.test('relevance_score is the fitted calibrator once there is one; a negative logit stays inside 0..1 either way', async (t) => {
  const { app } = await rerankApp(t)
  const payload = { query: 'capital of france', documents: ['paris is the capital of france', 'bananas are yellow', 'the eiffel tower'] }
  const before = (await app.inject({ method: 'POST', url: '/v1/rerank', payload })).json()
  t.ok(
    before.results.every((r: { relevance_score: number }) => r.relevance_score > 0 && r.relevance_score < 1),
    'every uncalibrated score is inside (0, 1) whatever the logit sign',
  )
  await app.calibrators.save([
    {
      model: CE,
      stage: 'cross_encoder',
      calibrator: { version: 1, method: 'platt', params: { input: 'scalar', a: 2, b: -1 } },
      metrics: {
        method: 'platt',
        reason: 'test',
        n: 40,
        positives: 20,
        folds: 5,
        seed: 1,
        baseline: 'sigmoid',
        held_out: { before: { ece: 0, brier: 0, log_loss: 0 }, after: { ece: 0, brier: 0, log_loss: 0 } },
        source: { kind: 'examples', queries: 1 },
      },
    },
  ])
  const after = (await app.inject({ method: 'POST', url: '/v1/rerank', payload })).json()
  t.equal(after.relevance, 'calibrator')
  for (const r of after.results as { raw_score: number; relevance_score: number }[]) {
    t.ok(Math.abs(r.relevance_score - sigmoid(2 * r.raw_score - 1)) < 1e-9, `raw ${r.raw_score.toFixed(3)} -> Platt sigmoid(2s - 1)`)
  }
  t.same(
    after.results.map((r: { index: number }) => r.index),
    before.results.map((r: { index: number }) => r.index),
    'a monotone calibrator keeps the order',
  )
  const v2 = (await app.inject({ method: 'POST', url: '/v2/rerank', payload: { ...payload, model: CE } })).json()
  t.equal(v2.relevance, 'calibrator', '/v2/rerank reads the same calibrator')
  t.same(
    v2.results.map((r: { relevance_score: number }) => r.relevance_score),
    after.results.map((r: { relevance_score: number }) => r.relevance_score),
  )
})

t.test('a listwise model on /v1/rerank: raw_score is the window log-odds, relevance its rank until a calibrator reads both', async (t) => {
  const { app } = await rerankApp(t, { listwiseFence: false })
  const payload = { query: 'capital of france', documents: ['paris is the capital', 'bananas', 'eiffel tower', 'yellow'], model: LM }
  const before = (await app.inject({ method: 'POST', url: '/v1/rerank', payload })).json()
  t.equal(before.relevance, 'rank')
  type Result = { index: number; raw_score: number; relevance_score: number }
  const results = before.results as Result[]
  t.same(results.map((r) => r.relevance_score), [1, 1 / 2, 1 / 3, 1 / 4], '1/(rank+1), not a clamped logit')
  t.ok(results.every((r, i) => i === 0 || r.raw_score <= results[i - 1]!.raw_score), 'one window: log-odds fall with rank')
  // The window's first-place probabilities, read back from the log-odds, sum to one.
  const firstPlace = results.map((r) => Math.exp(r.raw_score) / (1 + Math.exp(r.raw_score)))
  t.ok(Math.abs(firstPlace.reduce((s, x) => s + x, 0) - 1) < 1e-6, 'softmax probabilities of the window sum to 1')

  await app.calibrators.save([
    {
      model: LM,
      stage: 'listwise',
      calibrator: { version: 1, method: 'listwise', params: { temperature: 1, weights: [1, -1], bias: 0 } },
      metrics: {
        method: 'listwise',
        reason: 'test',
        n: 40,
        positives: 20,
        folds: 5,
        seed: 1,
        baseline: 'rank',
        held_out: { before: { ece: 0, brier: 0, log_loss: 0 }, after: { ece: 0, brier: 0, log_loss: 0 } },
        source: { kind: 'examples', queries: 1 },
      },
    },
  ])
  const after = (await app.inject({ method: 'POST', url: '/v1/rerank', payload })).json()
  t.equal(after.relevance, 'calibrator')
  ;(after.results as Result[]).forEach((r, i) => {
    t.ok(Math.abs(r.relevance_score - 1 / (1 + Math.exp(-(r.raw_score - Math.log(i + 1))))) < 1e-9, `rank ${i + 1}: sigmoid(log-odds - log rank)`)
  })

  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  const documents = Array.from({ length: 8 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about ${['bridges', 'proteins'][i % 2]}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })
  const search = (await app.inject({
    method: 'POST',
    url: '/v1/collections/c/search',
    payload: { query: 'proteins', top_k: 4, mode: 'hybrid', rerank: { stages: [{ model: LM, top_n: 4 }] }, include: ['scores'] },
  })).json()
  t.equal(search.degraded, false)
  t.ok(search.results.every((r: { calibrated: boolean }) => r.calibrated), 'search reads the same calibrator for its last stage')
  search.results.forEach((r: { score: number; scores: { listwise: number } }, i: number) => {
    t.ok(Math.abs(r.score - 1 / (1 + Math.exp(-(r.scores.listwise - Math.log(i + 1))))) < 1e-9, `search hit ${i + 1}: calibrated from its log-odds and rank`)
  })
})

t.test('rerank bad input', async (t) => {
  const { app } = await rerankApp(t, { rerankMaxDocuments: 3 })
  const cases: [object, number, string, RegExp][] = [
    [{ query: 'q', documents: [] }, 400, 'invalid_request', /documents/],
    [{ query: 'q', documents: ['a', 'b', 'c', 'd'] }, 413, 'batch_too_large', /documents: 4 items exceeds the maximum of 3/],
    [{ query: 'q', documents: ['a'], model: 'no/such' }, 400, 'unknown_model', /^model 'no\/such' is not known; known models: 'test\/tiny-bert-mean', 'test\/tiny-causal-lm', 'test\/tiny-cross-encoder' on this server/],
    [{ query: 'q', documents: ['a', 'b'], top_n: 5 }, 400, 'invalid_value', /top_n: 5 .*1\.\.2/],
    [{ query: 'q', documents: ['a'], top_n: 0 }, 400, 'invalid_request', /top_n/],
    [{ query: '  ', documents: ['a'] }, 400, 'invalid_value', /query/],
    [{ documents: ['a'] }, 400, 'invalid_request', /query: is required/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/rerank', payload })
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
  }
})

t.test('search with a cascade: cross-encoder then FIRST-style listwise, with per-stage reports', async (t) => {
  // The fixture LM has a 512-token context: 20 fenced passages do not fit, the plain FIRST prompt does.
  const { app } = await rerankApp(t, { listwiseFence: false })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  const documents = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about ${['bridges', 'proteins', 'rivers'][i % 3]} and item ${i * 3}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/collections/c/search',
    payload: { query: 'proteins', top_k: 5, mode: 'hybrid', rerank: { stages: [{ model: CE, top_n: 25 }, { model: LM, top_n: 5 }] }, include: ['scores'], debug: true },
  })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const body = res.json()
  t.equal(body.results.length, 5)
  t.equal(body.degraded, false, JSON.stringify(body.rerank?.stages?.map((s: { reason?: unknown }) => s.reason)))
  t.same(body.rerank.stages.map((s: { model: string; status: string; inputCount: number; outputCount: number }) => [s.model, s.status, s.inputCount, s.outputCount]), [
    [CE, 'ok', 25, 25],
    [LM, 'ok', 25, 5],
  ])
  t.ok(body.results.every((r: { scores: { cross_encoder?: number; listwise?: number } }) => typeof r.scores.cross_encoder === 'number' && typeof r.scores.listwise === 'number'), 'each hit carries both stages raw scores')
  for (const r of body.results as { scores: { cross_encoder: number; listwise: number; rerank: unknown } }[]) {
    t.same(r.scores.rerank, [
      { model: CE, stage: 'cross_encoder', score: r.scores.cross_encoder },
      { model: LM, stage: 'listwise', score: r.scores.listwise },
    ], 'scores.rerank lists each stage the hit passed, in order, with its model and raw score')
  }
  const windows = body.rerank.stages[1].windows
  t.equal(windows.length, 2, '25 candidates, window 20 stride 10 -> two windows (back to front)')
  t.same([windows[0].start, windows[0].end, windows[1].start, windows[1].end], [5, 25, 0, 15], 'back to front: [5,25) first, then [0,15) (stride 10)')
  t.same([...windows[0].permutation].sort((a: number, b: number) => a - b), Array.from({ length: windows[0].ids.length }, (_, i) => i), 'a permutation of the window')
  t.ok(windows[0].logits.every((l: number) => typeof l === 'number'), 'identifier logits reported')
  t.type(body.timings.rerank_ms, 'number')
})

t.test('the fenced prompt (the default) that does not fit the context fails the stage by name, degraded, never a 5xx', async (t) => {
  const { app } = await rerankApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  const documents = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about rivers and item ${i * 3}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })
  const res = await app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: 'rivers', top_k: 5, mode: 'hybrid', rerank: { stages: [{ model: LM, top_n: 20 }] } } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().degraded, true)
  t.match(res.json().rerank.stages[0].reason, /does not fit a context of 512 tokens/)
  t.equal(res.json().results.length, 5, 'the best order so far is returned')
})

t.test('a spent budget degrades gracefully; default stages come from config; the request may only narrow', async (t) => {
  const { app } = await rerankApp(t, { rerankBudgetMs: 100 })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents: Array.from({ length: 25 }, (_, i) => ({ id: `d${i}`, text: `text number ${i}` })) } })
  const search = (rerank: object) => app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: 'text', top_k: 3, rerank } })
  const tight = (await search({ budget_ms: 1 })).json()
  t.equal(tight.degraded, true, 'a 1 ms budget cannot fit the cascade')
  t.match(tight.rerank.reason, /budget/)
  t.equal(tight.results.length, 3, 'the best order so far is still returned')
  const tooWide = await search({ budget_ms: 5000 })
  t.equal(tooWide.statusCode, 400)
  t.match(tooWide.json().error.message, /rerank\.budget_ms: 5000 .*1\.\.100/)
  const tooMany = await search({ stages: [{ model: CE, top_n: 500 }] })
  t.match(tooMany.json().error.message, /top_n: 500 .*1\.\.200/)
  const widening = await search({ stages: [{ model: CE, top_n: 5 }, { model: LM, top_n: 10 }] })
  t.match(widening.json().error.message, /stages\[1\]\.top_n: 10 .*<= 5/)
  const unknown = await search({ stages: [{ model: 'nope/x', top_n: 5 }] })
  t.equal(unknown.json().error.code, 'unknown_model')
})

t.test("a stage with fusion 'rrf' is reported as fused, scores hits by the fused sum, and a wrong fusion is a 400", async (t) => {
  const { app } = await rerankApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  const documents = Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about ${['bridges', 'proteins', 'rivers'][i % 3]} and item ${i * 3}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })
  const search = (stages: object[]) => app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: 'proteins', top_k: 4, mode: 'hybrid', rerank: { stages }, include: ['scores'] } })
  const res = await search([{ model: CE, top_n: 10, fusion: 'rrf' }])
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const body = res.json()
  t.match(body.rerank.stages, [{ model: CE, fusion: 'rrf', status: 'ok', inputCount: 10, outputCount: 10 }])
  const scores = body.results.map((r: { score: number }) => r.score)
  t.ok(scores.every((s: number) => s > 2 / (60 + 11) - 1e-12 && s <= 2 / 61 + 1e-12), `fused sums of two ranks out of 10: ${scores.join(', ')}`)
  t.same([...scores].sort((a: number, b: number) => b - a), scores, 'best first')
  t.ok(body.results.every((r: { scores: { cross_encoder?: number } }) => typeof r.scores.cross_encoder === 'number'), 'raw cross-encoder logits kept')
  const wrong = await search([{ model: CE, top_n: 10, fusion: 'sum' }])
  t.equal(wrong.statusCode, 400)
  t.match(wrong.json().error.message, /fusion/)
})

t.test('two stages of one kind (two embedding stages): scores.rerank keeps both raw scores, scores.embedding only the last', async (t) => {
  const modelsDir = await fixtureModelsDir(['tiny-bert-mean', 'tiny-bert-cls', 'tiny-cross-encoder'])
  const { app } = await buildTestApp(t, { modelsDir, rerankStages: `${CE}:20` })
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })
  const documents = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, text: `passage ${i} about ${['bridges', 'proteins', 'rivers'][i % 3]} and item ${i * 3}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })
  const stages = [{ model: 'test/tiny-bert-mean', top_n: 20 }, { model: 'test/tiny-bert-cls', top_n: 8 }, { model: CE, top_n: 4 }]
  const search = (include?: string[]) =>
    app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: 'proteins', top_k: 4, mode: 'hybrid', rerank: { stages }, ...(include && { include }) } })
  const res = await search(['scores'])
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const body = res.json()
  t.equal(body.degraded, false, JSON.stringify(body.rerank?.stages?.map((s: { reason?: unknown }) => s.reason)))
  t.equal(body.results.length, 4)
  type Entry = { model: string; stage: string; score: number }
  for (const r of body.results as { scores: { embedding: number; cross_encoder: number; rerank: Entry[] } }[]) {
    t.same(r.scores.rerank.map((e) => [e.model, e.stage]), [
      ['test/tiny-bert-mean', 'embedding'],
      ['test/tiny-bert-cls', 'embedding'],
      [CE, 'cross_encoder'],
    ])
    t.equal(r.scores.rerank[1]!.score, r.scores.embedding, 'scores.embedding is the later embedding stage')
    t.equal(r.scores.rerank[2]!.score, r.scores.cross_encoder)
    t.not(r.scores.rerank[0]!.score, r.scores.rerank[1]!.score, 'the two embedders gave different cosines, both kept')
  }
  const plain = (await search()).json()
  t.ok(plain.results.every((r: { scores: Record<string, unknown> }) => !('rerank' in r.scores)), "without include 'scores' the per-stage list is left out")
})
