import { copyFile, cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Manifest } from '../../src/models/manifest.js'
import { RerankerPool } from '../../src/rerank/reranker-pool.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

const hub = (repo: string) => ({ kind: 'hub' as const, repo, revision: 'main', files: [{ path: 'onnx/model.onnx', sha256: null }] })

const manifest: Manifest = {
  models: [
    { id: 'test/tiny-cls', task: 'embedding', source: hub('test/tiny-cls'), max_length: 64, pooling: 'cls', prefixes: { query: 'query: ', document: '' } },
    { id: 'test/tiny-cross-encoder', task: 'cross-encoder', source: hub('test/tiny-cross-encoder'), max_length: 128 },
  ],
}

t.test('an embedder folder loads as an embedding stage with the manifest facts; a cross-encoder as a cross-encoder', async (t) => {
  const modelsDir = await mkdtemp(path.join(os.tmpdir(), 'pool-models-'))
  await cp(await fixtureModelDir('tiny-bert-cls'), path.join(modelsDir, 'test', 'tiny-cls'), { recursive: true })
  await cp(await fixtureModelDir('tiny-cross-encoder'), path.join(modelsDir, 'test', 'tiny-cross-encoder'), { recursive: true })
  const pool = new RerankerPool({ modelsDir, manifest, listwise: { windowSize: 4, stride: 2 }, log: () => undefined })
  t.teardown(() => pool.close())
  t.same(pool.known(), ['test/tiny-cross-encoder', 'test/tiny-cls'], 'rerankers first, then embedders usable as embedding stages')
  t.same(await pool.ready(), ['test/tiny-cls', 'test/tiny-cross-encoder'])
  const embedder = await pool.get('test/tiny-cls')
  t.equal(embedder.scoreKey, 'embedding')
  t.equal(embedder.name, 'test/tiny-cls')
  const ce = await pool.get('test/tiny-cross-encoder')
  t.equal(ce.scoreKey, 'cross_encoder')
  const { candidates } = await embedder.rank('solar power', [
    { id: 'a', text: 'solar panels make electricity', score: 1, scores: {} },
    { id: 'b', text: 'bread and yeast', score: 0.5, scores: {} },
  ])
  t.same(candidates.map((c) => typeof c.scores.embedding), ['number', 'number'])
  await t.rejects(pool.get('test/absent'), { code: 'unknown_model' })
})

t.test('a GGUF folder is a listwise llama.cpp stage, pointwise: when prefixed; a broken GGUF fails by name', async (t) => {
  const modelsDir = await mkdtemp(path.join(os.tmpdir(), 'pool-gguf-'))
  const gguf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/models/tiny-gguf/tiny-chatml.gguf')
  await mkdir(path.join(modelsDir, 'test', 'tiny-gguf'), { recursive: true })
  await copyFile(gguf, path.join(modelsDir, 'test', 'tiny-gguf', 'tiny-chatml.gguf'))
  await mkdir(path.join(modelsDir, 'test', 'broken-gguf'), { recursive: true })
  await writeFile(path.join(modelsDir, 'test', 'broken-gguf', 'model.gguf'), 'not a gguf at all')
  const pool = new RerankerPool({ modelsDir, manifest, listwise: { windowSize: 4, stride: 2 }, log: () => undefined })
  t.teardown(() => pool.close())
  t.same(await pool.ready(), ['pointwise:test/broken-gguf', 'pointwise:test/tiny-gguf', 'test/broken-gguf', 'test/tiny-gguf'])
  const listwise = await pool.get('test/tiny-gguf')
  t.equal(listwise.scoreKey, 'listwise')
  const pointwise = await pool.get('pointwise:test/tiny-gguf')
  t.equal(pointwise.scoreKey, 'cross_encoder')
  const input = ['a', 'b', 'c', 'd'].map((text, i) => ({ id: `d${i}`, text, score: 0, scores: {} }))
  t.equal((await listwise.rank('q', input, { topN: 1 })).candidates[0]!.id, 'd2', 'one window (size 4): the planted identifier C leads')
  t.equal((await pointwise.rank('q', input)).candidates.length, 4)
  await t.rejects(pool.get('test/broken-gguf'), /broken-gguf\/model\.gguf: not a GGUF file/)
  await t.rejects(pool.get('pointwise:test/absent'), { code: 'unknown_model' })
})

t.test('FUNNEL_ONNX_WORKER reaches the rerankers: worker sessions score exactly what in-thread ones do', async (t) => {
  const modelsDir = await mkdtemp(path.join(os.tmpdir(), 'pool-models-'))
  await cp(await fixtureModelDir('tiny-bert-cls'), path.join(modelsDir, 'test', 'tiny-cls'), { recursive: true })
  await cp(await fixtureModelDir('tiny-cross-encoder'), path.join(modelsDir, 'test', 'tiny-cross-encoder'), { recursive: true })
  const onWorker = new RerankerPool({ modelsDir, manifest, listwise: { windowSize: 4, stride: 2 }, worker: true, log: () => undefined })
  const inThread = new RerankerPool({ modelsDir, manifest, listwise: { windowSize: 4, stride: 2 }, log: () => undefined })
  t.teardown(async () => {
    await onWorker.close()
    await inThread.close()
  })
  const candidates = ['solar panels make electricity', 'bread and yeast', 'wind turbines and solar farms', 'a recipe for soup'].map((text, i) => ({ id: `d${i}`, text, score: 1 - i / 10, scores: {} }))
  for (const id of ['test/tiny-cross-encoder', 'test/tiny-cls']) {
    const [a, b] = [await onWorker.get(id), await inThread.get(id)]
    t.equal((a as unknown as { onWorker: boolean }).onWorker, true, `${id}: the worker pool's session is on a worker thread`)
    t.equal((b as unknown as { onWorker: boolean }).onWorker, false, `${id}: the default pool's is not`)
    const [x, y] = [await a.rank('solar power', candidates), await b.rank('solar power', candidates)]
    t.same(x.candidates.map((c) => [c.id, c.score]), y.candidates.map((c) => [c.id, c.score]), `${id}: same order and scores`)
  }
})

t.test('FUNNEL_RERANK_STAGES: model:top_n, and :rrf for a fused stage', async (t) => {
  const { parseRerankStages } = await import('../../src/rerank/reranker-pool.js')
  t.same(parseRerankStages('BAAI/bge-small-en-v1.5:100,google/embeddinggemma-300m:100:rrf'), [
    { model: 'BAAI/bge-small-en-v1.5', top_n: 100 },
    { model: 'google/embeddinggemma-300m', top_n: 100, fusion: 'rrf' },
  ])
  t.same(parseRerankStages(''), [])
  t.throws(() => parseRerankStages('model:rrf'), /model:top_n or model:top_n:rrf/)
  t.throws(() => parseRerankStages('model:0:rrf'), /model:top_n/)
})
