import { cp, mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
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
