import t from 'tap'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import type { EmbedFunction } from '../../src/inference/micro-batcher.js'
import { QueryEmbeddingCache, type CachedEmbedding } from '../../src/inference/query-cache.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

const entry = (value: number): CachedEmbedding => ({ vector: Float32Array.of(value, value), tokenCount: value, truncated: false })

t.test('keeps the most recently used entries and evicts the least recently used', async (t) => {
  const cache = new QueryEmbeddingCache({ maxEntries: 2 })
  cache.set('m', 'query', 'a', entry(1))
  cache.set('m', 'query', 'b', entry(2))
  t.equal(cache.get('m', 'query', 'a')?.tokenCount, 1, 'a hit refreshes "a"')
  cache.set('m', 'query', 'c', entry(3))
  t.equal(cache.get('m', 'query', 'b'), undefined, '"b" was least recently used, so it went')
  t.equal(cache.get('m', 'query', 'a')?.tokenCount, 1)
  t.equal(cache.get('m', 'query', 'c')?.tokenCount, 3)
  t.same(cache.stats(), { entries: 2, hits: 3, misses: 1 })
  cache.set('m', 'query', 'a', entry(9))
  t.equal(cache.get('m', 'query', 'a')?.tokenCount, 9, 'setting an existing key replaces it')
  t.equal(cache.stats().entries, 2)
})

t.test('the key is (model id, kind, text)', async (t) => {
  const cache = new QueryEmbeddingCache({ maxEntries: 10 })
  cache.set('m1', 'query', 'text', entry(1))
  t.equal(cache.get('m2', 'query', 'text'), undefined, 'another model misses')
  t.equal(cache.get('m1', 'document', 'text'), undefined, 'another kind misses')
  t.equal(cache.get('m1', 'query', 'text '), undefined, 'another text misses')
  t.equal(cache.get('m1', 'query', 'text')?.tokenCount, 1)
  cache.set('m1', 'document', 'text', entry(2))
  cache.set('m2', 'query', 'text', entry(3))
  cache.deleteModel('m1')
  t.equal(cache.get('m1', 'query', 'text'), undefined, 'deleteModel drops that model')
  t.equal(cache.get('m1', 'document', 'text'), undefined)
  t.equal(cache.get('m2', 'query', 'text')?.tokenCount, 3, 'and keeps the others')
  cache.clear()
  t.equal(cache.stats().entries, 0)
})

t.test('vectors are copied in and out, so callers cannot corrupt the cache', async (t) => {
  const cache = new QueryEmbeddingCache({ maxEntries: 10 })
  const stored = entry(1)
  cache.set('m', 'query', 'q', stored)
  stored.vector[0] = 99
  const first = cache.get('m', 'query', 'q')!
  t.same(Array.from(first.vector), [1, 1], 'mutating the stored vector after set changes nothing')
  first.vector[0] = 42
  t.same(Array.from(cache.get('m', 'query', 'q')!.vector), [1, 1], 'mutating a returned vector changes nothing')
})

t.test('over-long texts are not cached; maxEntries 0 disables caching; bad sizes are refused', async (t) => {
  const cache = new QueryEmbeddingCache({ maxEntries: 10, maxTextLength: 5 })
  cache.set('m', 'query', '123456', entry(1))
  cache.set('m', 'query', '12345', entry(2))
  t.equal(cache.get('m', 'query', '123456'), undefined)
  t.equal(cache.get('m', 'query', '12345')?.tokenCount, 2)
  const off = new QueryEmbeddingCache({ maxEntries: 0 })
  off.set('m', 'query', 'q', entry(1))
  t.equal(off.get('m', 'query', 'q'), undefined)
  t.throws(() => new QueryEmbeddingCache({ maxEntries: -1 }), /maxEntries: -1 is not allowed; use an integer >= 0/)
  t.throws(() => new QueryEmbeddingCache({ maxEntries: 1.5 }), /maxEntries: 1.5 is not allowed/)
})

t.test('wrap sends only the misses, each distinct text once, and answers in input order', async (t) => {
  const calls: string[][] = []
  const embed: EmbedFunction = async (texts) => {
    calls.push([...texts])
    return {
      vectors: texts.map((text) => Float32Array.of(text.length)),
      tokenCounts: texts.map((text) => text.length + 2),
      truncated: texts.map(() => false),
    }
  }
  const cache = new QueryEmbeddingCache({ maxEntries: 100 })
  const cached = cache.wrap('m', embed)
  const first = await cached(['aa', 'bbb', 'aa'], 'query')
  t.same(calls, [['aa', 'bbb']], 'the repeated text went once')
  t.same(first.vectors.map((v) => v[0]), [2, 3, 2])
  t.same(first.tokenCounts, [4, 5, 4])
  const second = await cached(['c', 'bbb', 'aa'], 'query')
  t.same(calls[1], ['c'], 'only the new text went to the model')
  t.same(second.vectors.map((v) => v[0]), [1, 3, 2])
  t.same(second.tokenCounts, [3, 5, 4], 'token counts come from the cache too')
  await cached(['c'], 'document')
  t.same(calls[2], ['c'], 'a document is not answered from a query entry')
  first.vectors[0]![0] = -1
  t.equal((await cached(['aa'], 'query')).vectors[0]![0], 2, 'duplicate texts in one call get independent vectors')
})

t.test('wrap passes errors through and caches nothing on failure', async (t) => {
  let fail = true
  const cache = new QueryEmbeddingCache({ maxEntries: 10 })
  const cached = cache.wrap('m', async (texts) => {
    if (fail) throw new Error('model failed')
    return { vectors: texts.map(() => Float32Array.of(1)), tokenCounts: texts.map(() => 1), truncated: texts.map(() => false) }
  })
  await t.rejects(cached(['q'], 'query'), /model failed/)
  t.equal(cache.stats().entries, 0)
  fail = false
  t.equal((await cached(['q'], 'query')).vectors.length, 1)
})

t.test('on the fixture model, cached vectors equal fresh ones', async (t) => {
  const model = await EmbeddingModel.load(await fixtureModelDir('tiny-bert-mean'), { id: 'tiny' })
  t.teardown(() => model.dispose())
  const cache = new QueryEmbeddingCache({ maxEntries: 16 })
  const cached = cache.wrap(model.id, (texts, kind) => model.embed(texts, kind))
  const texts = ['solar power', 'a much longer query about photosynthesis in plants']
  const fresh = await model.embed(texts, 'query')
  await cached(texts, 'query')
  const fromCache = await cached(texts, 'query')
  t.equal(cache.stats().hits, 2)
  fromCache.vectors.forEach((vector, i) => t.same(Array.from(vector), Array.from(fresh.vectors[i]!), `text ${i}`))
  t.same(fromCache.truncated, fresh.truncated)
})
