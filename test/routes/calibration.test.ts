import t, { type Test } from 'tap'
import { buildTestApp, TEST_MODEL } from '../helpers/app.js'

const TOPICS = ['solar panel energy', 'river delta flood', 'violin concerto music', 'protein folding cell', 'galaxy star telescope', 'market price inflation']
const FILLER = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu'.split(' ')
const documents = Array.from({ length: 60 }, (_, i) => ({
  id: `d${i}`,
  text: `${TOPICS[i % TOPICS.length]} ${FILLER[i % FILLER.length]} ${FILLER[(i * 7 + 2) % FILLER.length]} item ${i}`,
}))

/** 40 labelled pairs over four queries: ten documents each, half on the query's topic. */
const examples = TOPICS.slice(0, 4).flatMap((query, q) =>
  documents
    .filter((_, i) => i % TOPICS.length === q)
    .slice(0, 5)
    .concat(documents.filter((_, i) => i % TOPICS.length === (q + 3) % TOPICS.length).slice(0, 5))
    .map((d) => ({ query, id: d.id, label: Number(d.id.slice(1)) % TOPICS.length === q ? 1 : 0 })),
)

async function setup(t: Test) {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c' } })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })).statusCode, 200)
  const fit = (payload: object) => app.inject({ method: 'POST', url: '/v1/calibration/fit', payload })
  return { app, fit }
}

t.test('POST /v1/calibration/fit fits from labelled ids by searching the collection; GET lists the active calibrators', async (t) => {
  const { app, fit } = await setup(t)
  t.equal(examples.length, 40)
  const res = await fit({ collection: 'c', examples, mode: 'lexical', top_k: 20 })
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.equal(body.calibrators.length, 1)
  const [lexical] = body.calibrators
  t.match(lexical, { stage: 'lexical', model: 'bm25', version: 1, method: 'platt', reason: /held-out log-loss/ })
  t.ok(lexical.n >= 20 && lexical.positives >= 5)
  for (const key of ['ece', 'brier', 'log_loss']) {
    t.type(lexical.held_out.before[key], 'number')
    t.type(lexical.held_out.after[key], 'number')
  }
  t.ok(lexical.held_out.after.log_loss < lexical.held_out.before.log_loss, 'calibrated beats sigmoid(BM25) on held-out log-loss')
  t.match(body.source, { kind: 'search', collection: 'c', mode: 'lexical', top_k: 20, queries: 4 })
  t.notOk('fit' in lexical, 'internal fit details stay out of the response')

  const dense = await fit({ collection: 'c', examples: examples.map((e) => ({ ...e, document: documents.find((d) => d.id === e.id)!.text })) })
  t.equal(dense.statusCode, 200, dense.body)
  t.match(dense.json().calibrators, [{ stage: 'dense', model: TEST_MODEL, version: 1, n: 40, positives: 20 }])
  t.equal((await fit({ collection: 'c', examples, mode: 'lexical', top_k: 20 })).json().calibrators[0].version, 2)

  const list = await app.inject({ method: 'GET', url: '/v1/calibration' })
  t.equal(list.statusCode, 200)
  const listed = list.json().calibrators as { stage: string; model: string; version: number; method: string; metrics: { n: number; source: { kind: string } } }[]
  t.same(listed.map((c) => [c.stage, c.model, c.version]), [['dense', TEST_MODEL, 1], ['lexical', 'bm25', 2]])
  t.equal(listed[0]!.metrics.n, 40)
  t.equal(listed[0]!.metrics.source.kind, 'examples')
  t.equal(listed[1]!.metrics.source.kind, 'search')
})

t.test('POST /v1/calibration/fit bad input is a 4xx naming the field', async (t) => {
  const { app, fit } = await setup(t)
  const graded = examples.map((e, i) => (i === 3 ? { ...e, label: 2 } : e))
  const cases: [object, number, string, RegExp][] = [
    [{ collection: 'c', examples: graded }, 400, 'invalid_value', /examples\[3\]\.label: 2 is not allowed; labels must be 0 or 1; pass label_threshold/],
    [{ collection: 'c', examples: examples.slice(0, 5) }, 422, 'insufficient_labels', /examples: calibrating stage 'dense' needs at least 20 labelled examples with at least 5 relevant and 5 not relevant; got \d+/],
    [{ collection: 'c', examples, stages: ['dense', 'bm25'] }, 400, 'unknown_stage', /stages: 'bm25' is not a pipeline stage; stages: 'dense', 'lexical', 'fused', 'embedding', 'cross_encoder', 'listwise'/],
    [{ collection: 'nope', examples }, 404, 'collection_not_found', /collection 'nope' does not exist/],
    [{ examples }, 400, 'invalid_request', /collection: labelling search hits needs a collection/],
    [{ collection: 'c' }, 400, 'invalid_request', /examples: give labelled examples or qrels/],
    [{ collection: 'c', examples, mode: 'dense', stages: ['lexical'] }, 400, 'invalid_request', /stages: stage 'lexical' produced no scores .*available: dense/],
    [{ collection: 'c', examples, model: 'other/model' }, 400, 'invalid_value', /model: "other\/model" is not allowed; collection 'c' uses/],
    [{ examples: examples.map((e) => ({ ...e, document: 'x' })), model: 'no/such-model' }, 400, 'unknown_model', /model 'no\/such-model' is not known/],
    [{ collection: 'c', examples, folds: 1 }, 400, 'invalid_request', /body\.folds: must be >= 2/],
    [{ collection: 'c', examples, top_k: 5000 }, 400, 'invalid_value', /top_k: 5000 .*1\.\.1000/],
    [{ collection: 'c', examples: [{ query: 'x', label: 1 }] }, 400, 'invalid_request', /examples\[0\]\.id: give the id/],
    [{ collection: 'c', examples: [{ query: 'x', id: 'd1', label: 1, score: 3 }] }, 400, 'invalid_request', /body\.examples\.0\.score: is not a known field/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await fit(payload)
    t.equal(res.statusCode, status, `${JSON.stringify(payload).slice(0, 120)}: ${res.body}`)
    t.equal(res.json().error.code, code, JSON.stringify(payload).slice(0, 120))
    t.match(res.json().error.message, message, JSON.stringify(payload).slice(0, 120))
  }
  t.same((await app.inject({ method: 'GET', url: '/v1/calibration' })).json(), { calibrators: [] }, 'nothing was stored by a failed fit')
})

t.test('search returns calibrated probabilities once a calibrator exists, and min_score thresholds on them', async (t) => {
  const { app, fit } = await setup(t)
  const search = (body: object) => app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: 'solar panel energy', top_k: 10, mode: 'lexical', ...body } })
  const raw = (await search({})).json()
  t.same(raw.calibration, { stage: 'lexical', model: 'bm25', calibrated: false })
  t.ok(raw.results.every((r: { calibrated: boolean; score: number; scores: { lexical: number } }) => !r.calibrated && r.score === r.scores.lexical), 'uncalibrated: score is the raw BM25')
  const refused = await search({ min_score: 0.5 })
  t.equal(refused.statusCode, 400)
  t.match(refused.json().error.message, /min_score.*no calibrator is fitted for stage 'lexical' of model 'bm25'/)

  t.equal((await fit({ collection: 'c', examples, mode: 'lexical', top_k: 20 })).statusCode, 200)
  const calibrated = (await search({})).json()
  t.same(calibrated.calibration, { stage: 'lexical', model: 'bm25', calibrated: true })
  const scores = calibrated.results.map((r: { score: number }) => r.score) as number[]
  t.ok(scores.every((p) => p > 0 && p < 1), 'probabilities in (0, 1)')
  t.ok(scores.every((p, i) => i === 0 || p <= scores[i - 1]!), 'monotone in the raw score, so the order is unchanged')
  t.same(calibrated.results.map((r: { id: string }) => r.id), raw.results.map((r: { id: string }) => r.id))
  t.ok(calibrated.results.every((r: { calibrated: boolean; scores: { lexical: number } }) => r.calibrated && typeof r.scores.lexical === 'number'), 'raw scores stay beside the probability')
  const threshold = scores[2]!
  const kept = (await search({ min_score: threshold })).json().results as { score: number }[]
  t.ok(kept.length >= 3 && kept.every((r) => r.score >= threshold), 'min_score drops hits below the calibrated threshold')
  t.same((await search({ mode: 'dense' })).json().calibration, { stage: 'dense', model: TEST_MODEL, calibrated: false }, 'each stage has its own calibrator')
})
