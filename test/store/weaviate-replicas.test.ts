import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { startTestCluster, weaviateSkipReason } from './weaviate-cluster-fixture.js'

// Two stateless Funnel replicas (FUNNEL_BACKEND=weaviate) over one real 3-node Weaviate cluster: what
// one acknowledges over HTTP, the other serves at once (collections, documents, dense and BM25
// search, deletes), and neither keeps collection state on its own disk. With a node killed, /readyz
// stays 200 and says the service is degraded.
const skip = weaviateSkipReason()

if (skip !== false) {
  console.log(`# skipping the two-replica test: ${skip}`)
  t.test('two Funnel replicas share one Weaviate cluster', { skip }, async () => {})
} else {
  t.test('two Funnel replicas share one Weaviate cluster', async (t) => {
    const cluster = await startTestCluster(t)
    const settings = { backend: 'weaviate' as const, weaviateUrls: cluster.urls }
    const a = (await buildTestApp(t, settings)).app
    const b = (await buildTestApp(t, settings)).app
    const call = async (app: typeof a, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
      const res = await app.inject({ method, url, ...(payload !== undefined && { payload: payload as object }) })
      return { status: res.statusCode, body: res.json() }
    }

    t.equal((await call(a, 'POST', '/v1/collections', { name: 'shared', lexical: { stemming: 'porter' } })).status, 201, 'replica A creates the collection')
    t.equal((await call(b, 'POST', '/v1/collections', { name: 'shared' })).status, 409, 'replica B sees it exists')
    const documents = [
      { id: 'king', text: 'The king ruled the castle', metadata: { kind: 'royal' } },
      { id: 'garden', text: 'Gardens full of roses', metadata: { kind: 'garden' } },
      { id: 'sea', text: 'Ships sailed across the sea', metadata: { kind: 'sea' } },
    ]
    t.equal((await call(a, 'PUT', '/v1/collections/shared/documents', { documents })).status, 200, 'replica A acknowledges the upsert')

    const described = await call(b, 'GET', '/v1/collections/shared')
    t.equal(described.body.count, 3, 'replica B counts the documents at once')
    t.same((await call(b, 'GET', '/v1/collections/shared/documents/king')).body, documents[0], 'replica B reads a document exactly')
    const lexical = await call(b, 'POST', '/v1/collections/shared/search', { query: 'castles', top_k: 3, mode: 'lexical' })
    t.same(lexical.body.results.map((r: { id: string }) => r.id), ['king'], 'BM25 on replica B, stemmed like the embedded backend')
    const dense = await call(b, 'POST', '/v1/collections/shared/search', { query: 'The king ruled the castle', top_k: 1, mode: 'dense' })
    t.equal(dense.body.results[0]?.id, 'king', 'dense search on replica B')
    const filtered = await call(a, 'POST', '/v1/collections/shared/search', { query: 'the', top_k: 3, mode: 'hybrid', filter: { kind: 'sea' } })
    t.same(filtered.body.results.map((r: { id: string }) => r.id), ['sea'], 'a filtered hybrid search on replica A')

    t.equal((await call(b, 'DELETE', '/v1/collections/shared/documents/king')).status, 200, 'replica B deletes')
    t.equal((await call(a, 'GET', '/v1/collections/shared/documents/king')).status, 404, 'replica A no longer has it')
    const after = await call(a, 'POST', '/v1/collections/shared/search', { query: 'castle king', top_k: 3, mode: 'hybrid' })
    t.notOk(after.body.results.some((r: { id: string }) => r.id === 'king'), 'nor does any search on replica A')

    t.equal((await call(a, 'DELETE', '/v1/collections/shared')).status, 200, 'replica A drops the collection')
    t.equal((await call(b, 'GET', '/v1/collections/shared')).status, 404, 'replica B sees it gone')

    const healthy = await call(a, 'GET', '/readyz')
    t.equal(healthy.status, 200)
    t.equal(healthy.body.degraded, undefined, 'all three nodes up: ready, not degraded')
    await cluster.killNode(2)
    // The backend probes node readiness every 2 s; give it a few rounds.
    let ready = healthy
    for (let i = 0; i < 40 && ready.body.degraded === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      ready = await call(a, 'GET', '/readyz')
    }
    t.equal(ready.status, 200, 'a follower killed with SIGKILL: still ready (no 503, no 5xx)')
    t.match(ready.body.degraded, /1 of 3 Weaviate nodes not ready/, 'and /readyz says it is degraded')
  })
}
