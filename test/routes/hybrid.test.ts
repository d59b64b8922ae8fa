import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'

const documents = [
  { id: 'code', text: 'Firmware XJ9000 fails to boot after the update', metadata: { kind: 'ticket' } },
  { id: 'cats', text: 'Cats are running across the garden chasing birds', metadata: { kind: 'note' } },
  { id: 'dogs', text: 'Dogs run in the park and chase the ball', metadata: { kind: 'note' } },
  { id: 'boot', text: 'The boot sequence loads the kernel from disk', metadata: { kind: 'ticket' } },
  ...Array.from({ length: 30 }, (_, i) => ({ id: `filler${i}`, text: `filler text ${i} about weather rain and clouds number ${i}`, metadata: { kind: 'filler' } })),
]

async function setup(t: Test, create: object = {}) {
  const ctx = await buildTestApp(t)
  await ctx.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb', ...create } })
  await ctx.app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents } })
  const search = (body: object) => ctx.app.inject({ method: 'POST', url: '/v1/collections/kb/search', payload: body })
  return { ...ctx, search }
}

t.test('lexical mode finds exact rare terms; stemming matches inflections; stop-word queries return nothing', async (t) => {
  const { search } = await setup(t)
  const code = (await search({ query: 'XJ9000', top_k: 3, mode: 'lexical', include: ['scores'] })).json()
  t.equal(code.mode, 'lexical')
  t.equal(code.strategy, 'bm25', 'a lexical search says BM25 found its candidates, not HNSW')
  t.equal(code.results[0].id, 'code')
  t.equal(code.results.length, 1, 'only the document with the term matches')
  t.ok(code.results[0].scores.lexical > 0)
  t.same(code.results[0].sources, { lexical: { rank: 1, score: code.results[0].scores.lexical } })
  const stemmed = (await search({ query: 'run', top_k: 5, mode: 'lexical' })).json()
  t.same(stemmed.results.map((r: { id: string }) => r.id).sort(), ['cats', 'dogs'], '"run" matches "running" and "run" (Porter)')
  const stop = await search({ query: 'the and of', top_k: 5, mode: 'lexical' })
  t.equal(stop.statusCode, 200)
  t.same(stop.json().results, [], 'a stop-word-only query is an empty result, not an error')
  const filtered = (await search({ query: 'boot', top_k: 5, mode: 'lexical', filter: { kind: 'ticket' } })).json()
  t.same(filtered.results.map((r: { id: string }) => r.id).sort(), ['boot', 'code'])
})

t.test('hybrid fuses both retrievers by RRF and reports each one rank and score', async (t) => {
  const { search } = await setup(t)
  const body = (await search({ query: 'XJ9000 firmware boot', top_k: 5, mode: 'hybrid', include: ['scores'] })).json()
  t.equal(body.mode, 'hybrid')
  const top = body.results[0]
  t.equal(top.id, 'code')
  t.ok(top.sources.dense && top.sources.lexical, 'both retrievers saw the top hit')
  const expected = 1 / (60 + top.sources.dense.rank) + 1 / (60 + top.sources.lexical.rank)
  t.ok(Math.abs(top.score - expected) < 1e-12, 'score = sum of 1/(k + rank)')
  t.equal(top.scores.fused, top.score)
  const weighted = (await search({ query: 'XJ9000 firmware boot', top_k: 3, mode: 'hybrid', fusion: { method: 'weighted', weights: { dense: 0, lexical: 1 } } })).json()
  t.equal(weighted.results[0].id, 'code')
  t.ok(weighted.results[0].score <= 1 && weighted.results[0].score >= 0, 'min-max normalised weighted sum')
})

t.test('the default mode comes from the collection, else the model recommendation', async (t) => {
  const { search } = await setup(t, { default_mode: 'lexical' })
  t.equal((await search({ query: 'boot', top_k: 2 })).json().mode, 'lexical')
  const fresh = await setup(t)
  t.equal((await fresh.search({ query: 'boot', top_k: 2 })).json().mode, 'dense', 'fixture model has no recommendation: dense')
})

t.test('deletes and updates reach the lexical index in the same transaction', async (t) => {
  const { search, app } = await setup(t)
  await app.inject({ method: 'DELETE', url: '/v1/collections/kb/documents/code' })
  t.same((await search({ query: 'XJ9000', top_k: 3, mode: 'lexical' })).json().results, [])
  await app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: [{ id: 'cats', text: 'XJ9000 replaced the cats' }] } })
  t.same((await search({ query: 'XJ9000', top_k: 3, mode: 'lexical' })).json().results.map((r: { id: string }) => r.id), ['cats'])
  t.same((await search({ query: 'garden birds', top_k: 3, mode: 'lexical' })).json().results, [], 'the old text is gone')
})

t.test('pseudo-relevance feedback reports the revision it used', async (t) => {
  const { search } = await setup(t)
  for (const mode of ['dense', 'lexical', 'hybrid']) {
    const guarded = (await search({ query: 'boot kernel', top_k: 5, mode, prf: { depth: 5 } })).json()
    t.ok(guarded.prf, `${mode}: prf report present`)
    t.ok(guarded.prf.used === 'original' || [1, 3, 5].includes(guarded.prf.used), `${mode}: used ${guarded.prf.used}`)
    t.equal(guarded.prf.revisions.length, 3, 'revisions from depths 1, 3 and 5 competed')
    t.type(guarded.timings.prf_ms, 'number')
    const unguarded = (await search({ query: 'boot kernel', top_k: 5, mode, prf: { depth: 3, guard: false } })).json()
    t.equal(unguarded.prf.used, 3)
    t.equal(unguarded.prf.reason, 'drift guard off')
    if (mode !== 'dense') t.ok(unguarded.prf.expansion_terms.length > 0, `${mode}: RM3 expansion terms reported`)
  }
})

t.test('mode, fusion and PRF bad input', async (t) => {
  const { search } = await setup(t)
  const cases: [object, string, RegExp][] = [
    [{ query: 'x', top_k: 3, mode: 'semantic' }, 'invalid_request', /body\.mode.*allowed: "dense", "lexical", "hybrid"/],
    [{ query: 'x', top_k: 3, prf: { depth: 50 }, fusion: { candidates: 20 } }, 'invalid_value', /prf\.depth: 50 .*candidate list \(20\)/],
    [{ query: 'x', top_k: 3, prf: { alpha: -1 } }, 'invalid_request', /prf\.alpha: must be >= 0/],
    [{ query: 'x', top_k: 3, fusion: { weights: { dense: -0.5 } } }, 'invalid_request', /weights\.dense: must be >= 0/],
    [{ query: 'x', top_k: 3, prf: { source: 'rerank' } }, 'invalid_value', /prf\.source.*needs a rerank stage/],
    [{ query: 'x', top_k: 3, rerank: {} }, 'invalid_value', /rerank\.stages.*FUNNEL_RERANK_STAGES/],
  ]
  for (const [payload, code, message] of cases) {
    const res = await search(payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
  }
})
