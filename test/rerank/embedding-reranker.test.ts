import t from 'tap'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import type { Candidate } from '../../src/candidate.js'
import { EmbeddingReranker } from '../../src/rerank/embedding-reranker.js'
import { PassageVectorCache } from '../../src/rerank/passage-vector-cache.js'
import { fixtureModelDir, readGolden } from '../helpers/fixture-models.js'

const candidate = (id: string, text: string, lexical: number): Candidate => ({ id, text, score: lexical, scores: { lexical } })

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0)

t.test('rescoring by cosine under the stage model, with its query prefix', async (t) => {
  const dir = await fixtureModelDir('tiny-bert-cls')
  const prefixes = { query: 'query: ', document: 'passage: ' }
  const reranker = await EmbeddingReranker.load({ modelDir: dir, name: 'test/cls', prefixes })
  const reference = await EmbeddingModel.load(dir, { id: 'reference', prefixes })
  t.teardown(async () => {
    await reranker.dispose()
    await reference.dispose()
  })
  const texts = readGolden('tiny-bert-cls').cases.map((c) => c.text)
  const query = 'solar panels on the roof'
  const candidates = texts.map((text, i) => candidate(`d${i}`, text, texts.length - i))
  const { candidates: ranked } = await reranker.rank(query, candidates, { topN: 3 })

  const [q] = (await reference.embed([query], 'query')).vectors
  const docs = (await reference.embed(texts, 'document')).vectors
  const expected = texts.map((_, i) => ({ id: `d${i}`, cosine: dot(q!, docs[i]!) })).sort((a, b) => b.cosine - a.cosine)
  t.same(ranked.map((c) => c.id), expected.slice(0, 3).map((e) => e.id), 'order is cosine descending, cut to topN')
  ranked.forEach((c, i) => {
    t.ok(Math.abs(c.score - expected[i]!.cosine) < 1e-5, `${c.id}: score is the cosine`)
    t.equal(c.scores.embedding, c.score, 'the raw cosine is kept under scores.embedding')
    t.ok(c.scores.lexical !== undefined, 'earlier stage scores are kept')
  })
  t.equal(reranker.scoreKey, 'embedding')

  const withoutPrefix = await EmbeddingReranker.load({ modelDir: dir, name: 'test/no-prefix' })
  t.teardown(() => withoutPrefix.dispose())
  const plain = await withoutPrefix.score(query, texts)
  const prefixed = await reranker.score(query, texts)
  t.not(plain.scores[0], prefixed.scores[0], 'the prefixes reach the model')
})

t.test('passage vectors are embedded once per model and text', async (t) => {
  const reranker = await EmbeddingReranker.load({ modelDir: await fixtureModelDir('tiny-bert-cls'), name: 'test/cls' })
  t.teardown(() => reranker.dispose())
  const texts = ['a first passage', 'a second passage', 'a first passage']
  const first = await reranker.score('query one', texts)
  t.same(reranker.cacheStats(), { entries: 2, hits: 0, misses: 3 }, 'the repeated text is embedded once')
  t.equal(first.scores[0], first.scores[2])
  const again = await reranker.score('query two', texts.slice(0, 2))
  t.equal(reranker.cacheStats().hits, 2, 'a second query reuses both passage vectors')
  t.equal(again.scores.length, 2)
})

t.test('PassageVectorCache evicts the least recently used entry and rejects bad sizes', async (t) => {
  const cache = new PassageVectorCache({ maxEntries: 2 })
  const calls: string[][] = []
  const embed = async (texts: string[]) => {
    calls.push(texts)
    return texts.map((text) => Float32Array.of(text.length))
  }
  await cache.embedAll('m', ['aa', 'bbb'], embed)
  await cache.embedAll('m', ['aa'], embed) // aa is now the most recent
  await cache.embedAll('m', ['c'], embed) // evicts bbb
  const vectors = await cache.embedAll('m', ['aa', 'bbb'], embed)
  t.same(calls, [['aa', 'bbb'], ['c'], ['bbb']])
  t.same(vectors.map((v) => v[0]), [2, 3])
  await cache.embedAll('other-model', ['aa'], embed)
  t.same(calls.at(-1), ['aa'], 'keys include the model id')
  t.throws(() => new PassageVectorCache({ maxEntries: -1 }), /maxEntries: -1 is not allowed/)
  await t.rejects(cache.embedAll('m', ['zz'], async () => []), /embed returned 0 vectors for 1 texts/)
})
