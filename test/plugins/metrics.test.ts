import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

/** The value of one sample line, e.g. `name{label="x"} 3`, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('/metrics: latency by route pattern, errors by code, collection gauges, process metrics', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'docs' } })
  const documents = ['a cat', 'a dog', 'a ship'].map((text, i) => ({ id: String(i), text }))
  await app.inject({ method: 'PUT', url: '/v1/collections/docs/documents', payload: { documents } })
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections/docs/search', payload: { query: 'cat', top_k: 2 } })).statusCode, 200)
  await app.inject({ method: 'GET', url: '/v1/collections/missing' })
  await app.inject({ method: 'GET', url: '/no/such/route/123' })

  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  t.equal(sample(text, 'funnel_http_request_duration_seconds_count{method="POST",route="/v1/collections/:name/search",status_code="200"}'), 1, 'the route pattern, not the URL')
  t.ok(sample(text, 'funnel_http_request_duration_seconds_bucket{le="+Inf",method="PUT",route="/v1/collections/:name/documents",status_code="200"}'))
  t.equal(sample(text, 'funnel_http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"}'), 1, 'unmatched URLs share one label')
  t.notMatch(text, /no\/such\/route/)
  t.equal(sample(text, 'funnel_http_errors_total{code="collection_not_found",status_code="404"}'), 1)
  t.equal(sample(text, 'funnel_http_errors_total{code="route_not_found",status_code="404"}'), 1)
  t.equal(sample(text, 'funnel_collection_documents{collection="docs"}'), 3)
  t.equal(sample(text, 'funnel_collection_index_vectors{collection="docs"}'), 3)
  t.ok(sample(text, 'funnel_collection_size_bytes{collection="docs"}')! > 0)
  t.equal(sample(text, 'funnel_collection_rescore_memory_bytes{collection="docs"}'), 0, 'a full-dim index keeps its rescoring vectors on disk by default')
  t.match(text, /^process_cpu_user_seconds_total \d/m, 'default process metrics')
  t.match(text, /^nodejs_heap_size_used_bytes \d/m)

  await app.inject({ method: 'DELETE', url: '/v1/collections/docs/documents/0' })
  const after = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sample(after, 'funnel_collection_documents{collection="docs"}'), 2, 'gauges are read at scrape time')
  await app.inject({ method: 'DELETE', url: '/v1/collections/docs' })
  t.notMatch((await app.inject({ method: 'GET', url: '/metrics' })).body, /collection="docs"/, 'a dropped collection leaves the gauges')
})

t.test('pipeline helpers: stage latency, ONNX run time and batch size', async (t) => {
  const { app } = await buildTestApp(t)
  app.metrics.observeStage('rerank', 250)
  app.metrics.observeStage('rerank', 50)
  // A model name no real ONNX run reports, so the sums are exactly what this test observed.
  app.metrics.observeOnnxRun('manual/reported-model', 12, 32)
  const text = await app.metrics.registry.metrics()
  t.equal(sample(text, 'funnel_stage_duration_seconds_count{stage="rerank"}'), 2)
  t.equal(sample(text, 'funnel_stage_duration_seconds_sum{stage="rerank"}'), 0.3, 'milliseconds in, seconds out')
  t.equal(sample(text, 'funnel_onnx_run_duration_seconds_sum{model="manual/reported-model"}'), 0.012)
  t.equal(sample(text, 'funnel_onnx_batch_size_bucket{le="32",model="manual/reported-model"}'), 1)
  t.equal(sample(text, 'funnel_onnx_batch_size_bucket{le="16",model="manual/reported-model"}'), 0)
})

t.test('each app has its own registry: two apps in one process count separately', async (t) => {
  const [{ app: one }, { app: two }] = await Promise.all([buildTestApp(t), buildTestApp(t)])
  await one.inject({ method: 'GET', url: '/v1/collections' })
  await one.inject({ method: 'GET', url: '/v1/collections' })
  await two.inject({ method: 'GET', url: '/v1/collections' })
  const series = 'funnel_http_request_duration_seconds_count{method="GET",route="/v1/collections",status_code="200"}'
  t.equal(sample((await one.inject({ method: 'GET', url: '/metrics' })).body, series), 2)
  t.equal(sample((await two.inject({ method: 'GET', url: '/metrics' })).body, series), 1)
})
