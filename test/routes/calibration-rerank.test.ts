import t, { type Test } from 'tap'
import { buildTestApp, fixtureModelsDir } from '../helpers/app.js'

// Fitting a reranker's calibrator through the API: the labelling searches run the cascade given in
// `rerank`, and the stage's scores are keyed by the reranker model that produced them.
const CE = 'test/tiny-cross-encoder'
const LM = 'test/tiny-causal-lm'
const TOPICS = ['solar panel energy', 'river delta flood', 'violin concerto music', 'protein folding cell']
const documents = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `${TOPICS[i % TOPICS.length]} note ${i}` }))
/** Every document of the query's topic is relevant: a top 20 of 40 holds both labels. */
const qrels = TOPICS.flatMap((query, q) => documents.filter((_, i) => i % TOPICS.length === q).map((d) => ({ query, id: d.id, label: 1 })))

async function setup(t: Test) {
  const modelsDir = await fixtureModelsDir(['tiny-bert-mean', 'tiny-cross-encoder', 'tiny-causal-lm'])
  // The fixture LM has a 512-token context: the plain FIRST prompt fits a window of 20, the fenced one does not.
  const { app } = await buildTestApp(t, { modelsDir, rerankStages: `${CE}:20`, listwiseFence: false })
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })).statusCode, 200)
  const fit = (payload: object) => app.inject({ method: 'POST', url: '/v1/calibration/fit', payload: { collection: 'c', qrels, mode: 'hybrid', top_k: 20, ...payload } })
  return { app, fit }
}

t.test('fit with rerank: the cross-encoder stage is calibrated under its model id, and /v1/rerank then reads it', async (t) => {
  const { app, fit } = await setup(t)
  const res = await fit({ rerank: {} })
  t.equal(res.statusCode, 200, res.body)
  const [stage] = res.json().calibrators
  t.match(stage, { stage: 'cross_encoder', model: CE, version: 1, n: 80, baseline: 'sigmoid' }, 'the default cascade ran; its last stage is fitted')
  t.ok(stage.positives >= 5 && stage.n - stage.positives >= 5)

  const both = await fit({ rerank: { stages: [{ model: CE, top_n: 20 }] }, stages: ['fused', 'cross_encoder'] })
  t.equal(both.statusCode, 200, both.body)
  t.same(both.json().calibrators.map((c: { stage: string; model: string; version: number }) => [c.stage, c.model, c.version]), [
    ['fused', 'rrf', 1],
    ['cross_encoder', CE, 2],
  ], 'the retriever and the reranker, each under its own key')

  const rerank = (await app.inject({ method: 'POST', url: '/v1/rerank', payload: { query: TOPICS[0], documents: documents.slice(0, 4).map((d) => d.text), model: CE } })).json()
  t.equal(rerank.relevance, 'calibrator', 'the fitted calibrator now gives relevance_score')
  t.ok(rerank.results.every((r: { relevance_score: number }) => r.relevance_score > 0 && r.relevance_score < 1))
})

t.test('fit with a listwise stage: window log-odds with the rank, against 1 / rank', async (t) => {
  const { fit } = await setup(t)
  const res = await fit({ rerank: { stages: [{ model: LM, top_n: 20 }] } })
  t.equal(res.statusCode, 200, res.body)
  const [stage] = res.json().calibrators
  t.match(stage, { stage: 'listwise', model: LM, n: 80, baseline: 'rank' })
  t.match(stage.reason, /held-out log-loss over 5 stratified folds \((platt|listwise|isotonic) /)
  t.match(stage.reason, /listwise \d/, 'the two-feature listwise method was among those tried')
})

t.test('fit with rerank refuses what it cannot do faithfully', async (t) => {
  const { fit } = await setup(t)
  const cut = await fit({ rerank: { stages: [{ model: CE, top_n: 20 }, { model: LM, top_n: 20 }], budget_ms: 1 } })
  t.equal(cut.statusCode, 400, cut.body)
  t.match(cut.json().error, { code: 'invalid_request', message: /^rerank: the labelling search for query 1 did not run every rerank stage \(test\/tiny-(cross-encoder|causal-lm) skipped/ })

  const pairs = await fit({ qrels: undefined, examples: [{ query: 'q', document: 'text', label: 1 }], rerank: {} })
  t.equal(pairs.statusCode, 400)
  t.match(pairs.json().error.message, /^rerank: rerank runs on labelling searches/)

  const unknown = await fit({ rerank: { stages: [{ model: 'no/such', top_n: 5 }] } })
  t.equal(unknown.statusCode, 400, unknown.body)
  t.match(unknown.json().error.code, /unknown_model/)
})
