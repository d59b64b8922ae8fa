import t from 'tap'
import { TEST_MODEL, buildTestApp } from '../helpers/app.js'

t.test('searches report per-stage latency and ONNX runs with their batch sizes', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'm' } })
  await app.inject({ method: 'PUT', url: '/v1/collections/m/documents', payload: { documents: [{ id: 'a', text: 'alpha beta' }, { id: 'b', text: 'gamma delta' }, { id: 'c', text: 'epsilon' }] } })
  await app.inject({ method: 'POST', url: '/v1/collections/m/search', payload: { query: 'alpha', top_k: 2, mode: 'hybrid' } })
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  const body = res.body
  for (const stage of ['embed', 'retrieve', 'rescore', 'lexical', 'fusion']) {
    t.match(body, new RegExp(`funnel_stage_duration_seconds_count\\{stage="${stage}"\\} 1`), `stage ${stage} observed once`)
  }
  const model = TEST_MODEL.replace('/', '\\/')
  t.match(body, new RegExp(`funnel_onnx_run_duration_seconds_count\\{model="${model}"\\} \\d+`), 'ONNX runs counted per model')
  t.match(body, new RegExp(`funnel_onnx_batch_size_sum\\{model="${model}"\\} \\d+`), 'batch sizes recorded')
})

t.test('the served model reports merged embed calls and query cache hits', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'm' } })
  await app.inject({ method: 'PUT', url: '/v1/collections/m/documents', payload: { documents: [{ id: 'a', text: 'alpha beta' }, { id: 'b', text: 'gamma delta' }] } })
  const search = (query: string) => app.inject({ method: 'POST', url: '/v1/collections/m/search', payload: { query, top_k: 1, mode: 'dense' } })
  // Four searches at once: their queries are merged into fewer embed calls.
  const first = await Promise.all(['one', 'two', 'three', 'four'].map(search))
  const again = await search('one')
  t.same(again.json().results, first[0]!.json().results, 'a cached query embedding gives the same results')
  const body = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const model = TEST_MODEL.replace('/', '\\/')
  const callers = Number(new RegExp(`funnel_embed_batch_callers_sum\\{model="${model}"\\} (\\d+)`).exec(body)?.[1])
  const batches = Number(new RegExp(`funnel_embed_batch_callers_count\\{model="${model}"\\} (\\d+)`).exec(body)?.[1])
  t.ok(batches < callers, `embed calls were merged: ${callers} callers in ${batches} model calls`)
  t.match(body, new RegExp(`funnel_query_cache_lookups_total\\{model="${model}",result="hit"\\} 1`), 'the repeated query hit the cache')
  t.match(body, new RegExp(`funnel_query_cache_lookups_total\\{model="${model}",result="miss"\\} 4`), 'the first four missed')
})
