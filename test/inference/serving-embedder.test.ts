import t from 'tap'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import type { BatchInfo } from '../../src/inference/micro-batcher.js'
import { ServingEmbedder } from '../../src/inference/serving-embedder.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

const QUERIES = ['solar power', 'what is the capital of France', 'mitochondria', 'a', 'how do vaccines train the immune system']

async function servingEmbedder(options: ConstructorParameters<typeof ServingEmbedder>[1] = {}) {
  const runs: number[] = []
  const model = await EmbeddingModel.load(await fixtureModelDir('tiny-bert-mean'), { id: 'tiny', onRun: (_ms, size) => runs.push(size) })
  runs.length = 0
  return { embedder: new ServingEmbedder(model, options), model, runs }
}

t.test('concurrent queries share model calls and get the vectors they would get alone', async (t) => {
  const batches: BatchInfo[] = []
  const { embedder, model, runs } = await servingEmbedder({ onBatch: (info) => batches.push(info), queryCacheSize: 0 })
  t.teardown(() => embedder.close())
  const alone: Float32Array[] = []
  for (const q of QUERIES) alone.push((await model.embed([q], 'query')).vectors[0]!)
  runs.length = 0
  const together = await Promise.all(QUERIES.map((q) => embedder.embed([q], 'query')))
  t.equal(batches.length, 1, 'five concurrent calls, one merged call')
  t.equal(batches[0]!.callers, 5)
  t.ok(runs.length < QUERIES.length, `fewer ONNX runs (${runs.length}) than callers`)
  together.forEach((batch, i) => {
    const diff = Math.max(...Array.from(batch.vectors[0]!, (v, j) => Math.abs(v - alone[i]![j]!)))
    t.ok(diff < 1e-5, `query ${i} gets its own vector (max abs diff ${diff.toExponential(2)})`)
  })
})

t.test('a repeated query is answered from the cache; documents are never cached', async (t) => {
  const lookups: boolean[] = []
  const { embedder, runs } = await servingEmbedder({ onCacheLookup: (hit) => lookups.push(hit) })
  t.teardown(() => embedder.close())
  const first = await embedder.embed(['solar power'], 'query')
  const second = await embedder.embed(['solar power'], 'query')
  t.equal(runs.length, 1, 'the second call never reached the model')
  t.same(lookups, [false, true])
  t.same(Array.from(second.vectors[0]!), Array.from(first.vectors[0]!))
  t.same(second.tokenCounts, first.tokenCounts)
  second.vectors[0]![0] = 42
  const third = await embedder.embed(['solar power'], 'query')
  t.not(third.vectors[0]![0], 42, 'a caller mutating its vector cannot corrupt the cache')
  await embedder.embed(['solar power'], 'document')
  await embedder.embed(['solar power'], 'document')
  t.equal(runs.length, 3, 'each document call runs the model')
  t.match(embedder.stats(), { cacheHits: 2, cacheMisses: 1, cacheEntries: 1 })
})

t.test('with micro-batching off, every call runs on its own', async (t) => {
  const { embedder, runs } = await servingEmbedder({ microBatch: false, queryCacheSize: 0 })
  t.teardown(() => embedder.close())
  await Promise.all(QUERIES.map((q) => embedder.embed([q], 'query')))
  t.equal(runs.length, QUERIES.length)
  t.equal(embedder.stats().batches, 0)
})

t.test('close finishes queued calls, then refuses new ones and releases the session', async (t) => {
  const { embedder } = await servingEmbedder()
  const pending = Promise.all(QUERIES.map((q) => embedder.embed([q], 'document')))
  await embedder.close()
  t.equal((await pending).length, QUERIES.length, 'calls queued before close completed')
  await t.rejects(embedder.embed(['late'], 'document'), /closed/)
})
