import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { CalibratorStore, type CalibrationMetrics } from '../../src/calibration/calibrator-store.js'
import { applyCalibrator, fitCalibrator, type CalibrationExample } from '../../src/calibration/fit.js'
import { SqliteCalibratorRepository } from '../../src/store/embedded/sqlite-calibrators.js'
import { SqliteStore } from '../../src/store/embedded/sqlite-store.js'
import { buildTestApp, TEST_MODEL } from '../helpers/app.js'
import { labelledScores, sigmoid } from './synthetic.js'

const METRICS: CalibrationMetrics = {
  method: 'platt',
  reason: 'test',
  n: 0,
  positives: 0,
  folds: 5,
  seed: 1,
  baseline: 'sigmoid',
  held_out: { before: { ece: 0, brier: 0, log_loss: 0 }, after: { ece: 0, brier: 0, log_loss: 0 } },
  source: { kind: 'examples', queries: 1 },
}

const plattFit = (seed: number, slope: number) => {
  const { scores, labels } = labelledScores(seed, 400, -4, 4, (s) => sigmoid(slope * s))
  return fitCalibrator(scores.map((score, i): CalibrationExample => ({ score, label: labels[i]! })))
}

async function openStore(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-calibrators-'))
  const file = path.join(dir, 'funnel.db')
  const stores: SqliteStore[] = []
  const open = () => {
    const sqlite = new SqliteStore(file)
    stores.push(sqlite)
    return CalibratorStore.open(new SqliteCalibratorRepository(sqlite.db))
  }
  t.teardown(async () => {
    for (const s of stores) s.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { open, close: () => stores.forEach((s) => s.close()) }
}

t.test('store: each save is a new active version; history keeps the old ones; survives reopening', async (t) => {
  const { open, close } = await openStore(t)
  const store = await open()
  t.equal((await store.active('bm25', 'lexical')), undefined)
  t.equal(store.apply('bm25', 'lexical', 3), undefined, 'no calibrator: apply says so instead of guessing')
  const first = plattFit(1, 1)
  const second = plattFit(2, 2)
  t.same((await store.save([{ model: 'bm25', stage: 'lexical', calibrator: first.calibrator, metrics: METRICS }])).map((s) => s.version), [1])
  t.same((await store.save([{ model: 'bm25', stage: 'lexical', calibrator: second.calibrator, metrics: METRICS }])).map((s) => s.version), [2])
  await store.save([{ model: 'm', stage: 'dense', calibrator: first.calibrator, metrics: METRICS }])
  t.equal((await store.active('bm25', 'lexical'))?.version, 2)
  t.same((await store.history('bm25', 'lexical')).map((c) => [c.version, c.active]), [[2, true], [1, false]])
  t.same((await store.list()).map((c) => [c.stage, c.model, c.version]), [['dense', 'm', 1], ['lexical', 'bm25', 2]])
  close()
  const reopened = await open()
  t.same((await reopened.active('bm25', 'lexical'))?.calibrator, second.calibrator, 'the stored calibrator round-trips')
  t.equal(reopened.apply('bm25', 'lexical', 0.5), applyCalibrator(second.calibrator, 0.5))
})

t.test('store: apply is cached and the cache is dropped when a new version is saved', async (t) => {
  const { open } = await openStore(t)
  const store = await open()
  const shallow = plattFit(3, 0.5)
  const steep = plattFit(4, 3)
  await store.save([{ model: 'm', stage: 'dense', calibrator: shallow.calibrator, metrics: METRICS }])
  const before = store.apply('m', 'dense', 1)!
  t.equal(before, applyCalibrator(shallow.calibrator, 1))
  await store.save([{ model: 'm', stage: 'dense', calibrator: steep.calibrator, metrics: METRICS }])
  const after = store.apply('m', 'dense', 1)!
  t.equal(after, applyCalibrator(steep.calibrator, 1), 'the new version is used at once')
  t.not(after, before)
})

t.test('store: a save that fails part-way stores nothing and keeps the active version', async (t) => {
  const { open } = await openStore(t)
  const store = await open()
  const fit = plattFit(5, 1)
  await store.save([{ model: 'm', stage: 'dense', calibrator: fit.calibrator, metrics: METRICS }])
  const cyclic = { ...METRICS } as Record<string, unknown>
  cyclic.self = cyclic
  await t.rejects(
    store.save([
      { model: 'm', stage: 'dense', calibrator: plattFit(6, 2).calibrator, metrics: METRICS },
      { model: 'bm25', stage: 'lexical', calibrator: fit.calibrator, metrics: cyclic as CalibrationMetrics },
    ]),
  )
  t.equal((await store.active('m', 'dense'))?.version, 1)
  t.equal((await store.history('m', 'dense')).length, 1)
  t.equal((await store.active('bm25', 'lexical')), undefined)
})

// ---- the service, on a real app (SQLite file, fixture embedder, HNSW, BM25) ----

const TOPICS = ['solar panel energy', 'river delta flood', 'violin concerto music', 'protein folding cell', 'galaxy star telescope', 'market price inflation']
const FILLER = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu'.split(' ')
const corpus = Array.from({ length: 60 }, (_, i) => ({
  id: `d${i}`,
  text: `${TOPICS[i % TOPICS.length]} ${FILLER[i % FILLER.length]} ${FILLER[(i * 5 + 1) % FILLER.length]} note ${i}`,
}))
/** Every document of a topic is relevant to that topic's query; the rest are not. */
const qrels = TOPICS.flatMap((topic, q) => corpus.filter((_, i) => i % TOPICS.length === q).map((d) => ({ query_id: `q${q}`, query: topic, id: d.id, label: 1 })))

async function serviceApp(t: Test) {
  const ctx = await buildTestApp(t)
  await ctx.app.collections.create({ name: 'c' })
  await ctx.app.collections.upsert('c', corpus)
  return ctx
}

t.test('service: a fit from qrels labels search hits per stage, stores versions, and apply is monotone in (0, 1)', async (t) => {
  const { app } = await serviceApp(t)
  const outcome = await app.calibration.fit({ collection: 'c', qrels, mode: 'hybrid', stages: ['dense', 'lexical', 'fused'], top_k: 20 })
  t.same(outcome.calibrators.map((c) => [c.stage, c.model, c.version]), [['dense', TEST_MODEL, 1], ['lexical', 'bm25', 1], ['fused', 'rrf', 1]])
  t.match(outcome.source, { kind: 'search', queries: TOPICS.length, collection: 'c', mode: 'hybrid', top_k: 20, judged_relevant: 60 })
  for (const c of outcome.calibrators) {
    t.ok(c.n >= 20 && c.positives >= 5, `${c.stage}: ${c.n} examples, ${c.positives} relevant`)
    t.ok(c.held_out.after.log_loss <= c.held_out.before.log_loss + 1e-9, `${c.stage}: calibration does not worsen held-out log-loss`)
  }
  const raws = [-0.5, -0.1, 0, 0.2, 0.4, 0.6, 0.8, 0.95]
  const probabilities = raws.map((r) => app.calibrators.apply(TEST_MODEL, 'dense', r)!)
  for (const p of probabilities) t.ok(p > 0 && p < 1, `probability ${p} in (0, 1)`)
  for (let i = 1; i < probabilities.length; i++) t.ok(probabilities[i]! >= probabilities[i - 1]!, 'non-decreasing in the raw score')

  const again = await app.calibration.fit({ collection: 'c', qrels, mode: 'dense', top_k: 20 })
  t.same(again.calibrators.map((c) => [c.stage, c.version]), [['dense', 2]], 'default stage: the last one that ran')
  t.equal((await app.calibrators.active(TEST_MODEL, 'dense'))?.version, 2)
})

t.test('service: a failed fit leaves the active calibrators and their cached values alone', async (t) => {
  const { app } = await serviceApp(t)
  await app.calibration.fit({ collection: 'c', qrels, mode: 'dense', top_k: 20 })
  const probe = app.calibrators.apply(TEST_MODEL, 'dense', 0.5)
  await t.rejects(app.calibration.fit({ collection: 'c', qrels: qrels.slice(0, 3), mode: 'dense', top_k: 2 }), { code: 'insufficient_labels', statusCode: 422 })
  await t.rejects(app.calibration.fit({ collection: 'c', qrels, mode: 'dense', stages: ['dense', 'lexical'] }), { code: 'invalid_request', message: /stage 'lexical' produced no scores/ })
  t.equal((await app.calibrators.active(TEST_MODEL, 'dense'))?.version, 1)
  t.equal((await app.calibrators.active('bm25', 'lexical')), undefined, 'the stage that fitted was not stored either')
  t.equal(app.calibrators.apply(TEST_MODEL, 'dense', 0.5), probe)
})

t.test('service: examples with document text are scored as pairs (dense cosine, lexical BM25 by id)', async (t) => {
  const { app } = await serviceApp(t)
  const examples = corpus.slice(0, 42).map((d, i) => ({ query: TOPICS[i % 3]!, document: d.text, id: d.id, label: i % TOPICS.length === i % 3 ? 1 : 0 }))
  const outcome = await app.calibration.fit({ collection: 'c', examples, stages: ['dense', 'lexical'] })
  t.same(outcome.calibrators.map((c) => [c.stage, c.model, c.n]), [['dense', TEST_MODEL, 42], ['lexical', 'bm25', 42]])
  t.match(outcome.source, { kind: 'examples', queries: 3, collection: 'c' })
  await t.rejects(app.calibration.fit({ examples, stages: ['lexical'] }), { code: 'invalid_request', message: /lexical needs a collection/ })
  const graded = examples.map((e) => ({ ...e, label: e.label * 3 }))
  await t.rejects(app.calibration.fit({ examples: graded }), { code: 'invalid_value', message: /examples\[0\]\.label: 3 .*label_threshold/ })
  const withThreshold = await app.calibration.fit({ examples: graded, label_threshold: 2 })
  t.equal(withThreshold.calibrators[0]!.positives, outcome.calibrators[0]!.positives, 'label_threshold binarizes graded labels')
})
