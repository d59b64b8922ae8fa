import t, { type Test } from 'tap'
import { cosineAtDims } from '../../src/retrieval/vector-math.js'
import { buildTestApp } from '../helpers/app.js'

const WORDS = 'solar wind river stone cloud engine protein galaxy market violin harbour glacier neuron pepper castle'.split(' ')
const corpus = Array.from({ length: 60 }, (_, i) => ({
  id: `d${i}`,
  text: `${WORDS[i % WORDS.length]} ${WORDS[(i * 7 + 3) % WORDS.length]} ${WORDS[(i * 11 + 5) % WORDS.length]} number ${i}`,
  metadata: { group: i % 3 === 0 ? 'a' : 'b', even: i % 2 === 0, n: i },
}))

async function setup(t: Test, indexDims: number, rescoreVectors?: string) {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c', index: { dims: indexDims }, ...(rescoreVectors !== undefined && { rescore_vectors: rescoreVectors }) } })
  await app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents: corpus } })
  const vectors = (await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: corpus.map((d) => d.text) } })).json().data.map(
    (d: { embedding: number[] }) => Float32Array.from(d.embedding),
  ) as Float32Array[]
  const embedQuery = async (q: string) => Float32Array.from((await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: q, input_type: 'query' } })).json().data[0].embedding)
  const bruteForce = (q: Float32Array, k: number, dims: number, keep: (i: number) => boolean = () => true) =>
    corpus
      .map((d, i) => ({ id: d.id, score: cosineAtDims(q, vectors[i]!, dims), i }))
      .filter((r) => keep(r.i))
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
  const search = async (body: object) => app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: body })
  return { ...ctx, bruteForce, embedQuery, search }
}

t.test('Matryoshka funnel: truncated HNSW + full-dim rescoring equals exact search when the shortlist covers the answer', async (t) => {
  // float32 rescoring vectors (and `disk`) give the exact cosines; the default float16 ones round each
  // component to half precision, which moves a score by about 1e-4 here.
  for (const [rescoreVectors, tolerance] of [['float32', 1e-5], ['disk', 1e-5], [undefined, 1e-3]] as const) {
    const { search, bruteForce, embedQuery } = await setup(t, 4, rescoreVectors)
    for (const query of ['solar river', 'protein neuron market', 'castle glacier number 7']) {
      const q = await embedQuery(query)
      const res = await search({ query, top_k: 5, oversample: 20 })
      t.equal(res.statusCode, 200)
      const body = res.json()
      const expected = bruteForce(q, 5, 16)
      const what = `${rescoreVectors ?? 'default (float16)'} rescoring vectors`
      t.same(body.results.map((r: { id: string }) => r.id), expected.map((e) => e.id), `${what}: top-5 for "${query}" equals exact full-dim search`)
      body.results.forEach((r: { score: number }, i: number) => t.ok(Math.abs(r.score - expected[i]!.score) < tolerance, `${what}: scores are full-dim cosines within ${tolerance}`))
      t.equal(body.strategy, 'hnsw')
      for (const key of ['embed_ms', 'retrieve_ms', 'rescore_ms', 'total_ms']) t.type(body.timings[key], 'number', `timings.${key}`)
    }
  }
})

t.test('dimensions rescales the rescoring; include trims the hits', async (t) => {
  const { search, bruteForce, embedQuery } = await setup(t, 16)
  const q = await embedQuery('violin harbour')
  const body = (await search({ query: 'violin harbour', top_k: 3, dimensions: 8, oversample: 30, include: [] })).json()
  const expected = bruteForce(q, 3, 8)
  t.same(body.results.map((r: { id: string }) => r.id), expected.map((e) => e.id))
  t.ok(Math.abs(body.results[0].score - expected[0]!.score) < 1e-5, 'score is the cosine at 8 dims')
  t.notOk('text' in body.results[0], 'text omitted when not included')
  const withMeta = (await search({ query: 'violin harbour', top_k: 1, include: ['metadata'] })).json()
  t.ok(withMeta.results[0].metadata && !('text' in withMeta.results[0]))
})

t.test('filter matches metadata exactly, by exact scan when selective', async (t) => {
  const { search, bruteForce, embedQuery } = await setup(t, 8)
  const q = await embedQuery('galaxy cloud')
  const body = (await search({ query: 'galaxy cloud', top_k: 4, filter: { group: 'a', even: true } })).json()
  const expected = bruteForce(q, 4, 16, (i) => i % 3 === 0 && i % 2 === 0)
  t.same(body.results.map((r: { id: string }) => r.id), expected.map((e) => e.id))
  t.equal(body.strategy, 'exact')
  const byNumber = (await search({ query: 'galaxy', top_k: 5, filter: { n: 7 } })).json()
  t.same(byNumber.results.map((r: { id: string }) => r.id), ['d7'])
  t.same((await search({ query: 'galaxy', top_k: 5, filter: { n: '7' } })).json().results, [], 'types must match: "7" is not 7')
  t.same((await search({ query: 'galaxy', top_k: 5, filter: { missing: 'x' } })).json().results, [])
})

t.test('search bad input', async (t) => {
  const { search, app } = await setup(t, 16)
  const cases: [object, number, string, RegExp][] = [
    [{ query: 'x', top_k: 0 }, 400, 'invalid_request', /body\.top_k: must be >= 1/],
    [{ query: 'x', top_k: 5000 }, 400, 'invalid_value', /top_k: 5000 .*1\.\.1000/],
    [{ query: 'x', top_k: 1.5 }, 400, 'invalid_request', /top_k: must be integer/],
    [{ query: '', top_k: 3 }, 400, 'invalid_request', /body\.query/],
    [{ query: '   ', top_k: 3 }, 400, 'invalid_value', /query/],
    [{ query: 'x', top_k: 3, dimensions: 17 }, 400, 'unsupported_dimensions', /dimensions: 17 .*1\.\.16/],
    [{ query: 'x', top_k: 3, oversample: 1000 }, 400, 'invalid_value', /oversample/],
    [{ query: 'x', top_k: 3, filter: { a: { $gt: 1 } } }, 400, 'invalid_request', /filter/],
    [{ query: 'x', top_k: 3, include: ['vectors'] }, 400, 'invalid_request', /include/],
    [{ top_k: 3 }, 400, 'invalid_request', /body\.query: is required/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await search(payload)
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
  }
  const missing = await app.inject({ method: 'POST', url: '/v1/collections/nope/search', payload: { query: 'x', top_k: 1 } })
  t.equal(missing.statusCode, 404)
})

t.test('an empty collection returns no results', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'empty' } })
  const res = await app.inject({ method: 'POST', url: '/v1/collections/empty/search', payload: { query: 'anything', top_k: 10 } })
  t.same(res.json().results, [])
})
