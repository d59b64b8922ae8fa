import t, { type Test } from 'tap'
import { buildTestApp, fixtureModelsDir } from '../helpers/app.js'
import { readGolden } from '../helpers/fixture-models.js'

const CE = 'test/tiny-cross-encoder'
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

async function rerankApp(t: Test, overrides = {}) {
  const modelsDir = await fixtureModelsDir(['tiny-bert-mean', 'tiny-cross-encoder', 'tiny-causal-lm'])
  return buildTestApp(t, { modelsDir, rerankStages: `${CE}:20`, ...overrides })
}

interface CrossGolden {
  cases: { query: string; passage: string; logits: number[] }[]
}

t.test("POST /v2/rerank answers Cohere v2's shape with golden scores read as probabilities", async (t) => {
  const { app } = await rerankApp(t)
  const golden = readGolden('tiny-cross-encoder') as unknown as CrossGolden
  const cases = golden.cases.filter((c) => c.query === 'capital of france')
  const documents = cases.map((c) => c.passage)
  const res = await app.inject({ method: 'POST', url: '/v2/rerank', payload: { model: CE, query: 'capital of france', documents } })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const body = res.json()
  t.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a request id, as Cohere returns')
  t.same(body.meta, { api_version: { version: '2' }, billed_units: { search_units: 1 } })
  t.equal(body.results.length, documents.length)
  const expected = cases.map((c, index) => ({ index, logit: c.logits[0]! })).sort((a, b) => b.logit - a.logit)
  t.same(
    body.results.map((r: { index: number }) => r.index),
    expected.map((e) => e.index),
    'results are ordered best first by the golden logits',
  )
  body.results.forEach((r: { index: number; relevance_score: number; raw_score: number }, i: number) => {
    t.ok(Math.abs(r.raw_score - expected[i]!.logit) < 1e-4, `result ${i}: raw_score is the golden logit`)
    t.ok(Math.abs(r.relevance_score - sigmoid(expected[i]!.logit)) < 1e-4, `result ${i}: relevance_score = sigmoid(logit)`)
    t.ok(r.relevance_score >= 0 && r.relevance_score <= 1, `result ${i}: relevance_score in 0..1`)
    t.same(Object.keys(r).sort(), ['index', 'raw_score', 'relevance_score'], 'no document text: v2 has no return_documents')
  })
  t.equal(body.relevance, 'sigmoid')
  t.equal(body.model, CE)
  t.type(body.timings.rerank_ms, 'number')
})

t.test('/v2/rerank: top_n past the documents returns them all (as Cohere does); search units per 100 documents; ignored options say so', async (t) => {
  const { app } = await rerankApp(t)
  const many = Array.from({ length: 101 }, (_, i) => `passage ${i}`)
  const all = (await app.inject({ method: 'POST', url: '/v2/rerank', payload: { model: CE, query: 'q', documents: ['a', 'b'], top_n: 5 } })).json()
  t.equal(all.results.length, 2)
  const one = (await app.inject({ method: 'POST', url: '/v2/rerank', payload: { model: CE, query: 'q', documents: ['a', 'b', 'c'], top_n: 1 } })).json()
  t.equal(one.results.length, 1)
  const big = (await app.inject({ method: 'POST', url: '/v2/rerank', payload: { model: CE, query: 'q', documents: many, top_n: 3, max_tokens_per_doc: 512, priority: 0 } })).json()
  t.equal(big.meta.billed_units.search_units, 2, '101 documents are two search units')
  t.match(big.meta.warnings, [/max_tokens_per_doc is not applied/])
})

t.test('/v2/rerank bad input: 4xx naming the field and, for models, the ones this server has', async (t) => {
  const { app } = await rerankApp(t, { rerankMaxDocuments: 3 })
  const cases: [object, number, string, RegExp][] = [
    [{ query: 'q', documents: ['a'] }, 400, 'invalid_request', /^body\.model: is required$/],
    [
      { model: 'rerank-v3.5', query: 'q', documents: ['a'] },
      400,
      'unknown_model',
      /^model 'rerank-v3\.5' is not known; known models: 'test\/tiny-bert-mean', 'test\/tiny-causal-lm', 'test\/tiny-cross-encoder' on this server/,
    ],
    [{ model: CE, query: 'q', documents: [] }, 400, 'invalid_request', /documents/],
    [{ model: CE, query: 'q', documents: [{ text: 'a' }] }, 400, 'invalid_request', /body\.documents\.0: must be string/],
    [{ model: CE, query: 'q', documents: ['a', 'b', 'c', 'd'] }, 413, 'batch_too_large', /documents: 4 items exceeds the maximum of 3/],
    [{ model: CE, query: ' ', documents: ['a'] }, 400, 'invalid_value', /^query:/],
    [{ model: CE, query: 'q', documents: ['a'], top_n: 0 }, 400, 'invalid_request', /top_n/],
    [{ model: CE, query: 'q', documents: ['a'], relevant_spans: { mode: 'enabled' } }, 400, 'invalid_value', /relevant spans are not supported/],
    [{ model: CE, query: 'q', documents: ['a'], return_documents: true }, 400, 'invalid_request', /return_documents: is not a known field/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v2/rerank', payload })
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
    t.notOk(res.headers['retry-after'], `${JSON.stringify(payload)}: nothing to retry`)
  }
})
