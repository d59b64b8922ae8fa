import t from 'tap'
import { hnswlib } from '../../src/retrieval/hnswlib-binding.js'
import { buildTestApp } from '../helpers/app.js'

// The search request's ef_search: the HNSW walk width for one search. Below top_k × oversample the
// embedded backend's candidate pool gives the shortlist (strategy hnsw_pool) where the addon has it;
// elsewhere, and with a filter, the walk is widened as without ef_search.

const DOCS = Array.from({ length: 400 }, (_, i) => ({ id: `d${i}`, text: `document ${i} about topic ${i % 7} and item ${i % 13}`, metadata: { even: i % 2 === 0 } }))

t.test('ef_search: the walk width per search, the pool below top_k × oversample, 400 outside 1..4096', async (t) => {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'funnel', index: { dims: 8 } } })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/collections/funnel/documents', payload: { documents: DOCS } })).statusCode, 200)
  const search = (extra: object) =>
    app.inject({ method: 'POST', url: '/v1/collections/funnel/search', payload: { query: 'topic 3 item 5', top_k: 5, mode: 'dense', oversample: 20, include: [], ...extra } })

  const plain = await search({})
  t.equal(plain.json().strategy, 'hnsw')
  const narrow = await search({ ef_search: 8 })
  t.equal(narrow.statusCode, 200)
  t.equal(narrow.json().strategy, hnswlib.candidatePool ? 'hnsw_pool' : 'hnsw', `candidate pool in the loaded addon: ${hnswlib.candidatePool}`)
  const scores = narrow.json().results.map((r: { score: number }) => r.score)
  t.equal(scores.length, 5)
  t.ok(scores.every((s: number, i: number) => i === 0 || scores[i - 1] >= s), 'best first')
  t.equal((await search({ ef_search: 100 })).json().strategy, 'hnsw', 'a walk at least top_k × oversample wide needs no pool')
  t.equal((await search({ ef_search: 8, filter: { even: true } })).json().strategy, 'exact', 'a selective filter is still scored exactly (the filtered walk is covered in candidate-pool.test.ts)')
  t.same(
    (await search({ ef_search: 400 })).json().results.map((r: { id: string }) => r.id),
    (await search({ ef_search: 400, oversample: 80 })).json().results.map((r: { id: string }) => r.id),
    'a walk over the whole collection finds the same top 5 whatever the shortlist',
  )

  for (const bad of [0, 4097, 1.5]) {
    const res = await search({ ef_search: bad })
    t.equal(res.statusCode, 400, `ef_search ${bad}`)
    t.match(res.json().error.message, /ef_search/, 'the message names the field')
  }
})
