import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { deferred, gateNextEmbed, onLifecyclePoint } from '../helpers/lifecycle-gates.js'

// Finding 1 of issue 13: a hybrid search that read the collection row, then awaited the query
// embedding while the collection was dropped, re-created its FTS tables with the old analysis
// settings; the re-created collection reused them (stemming it was told not to do) and the next
// restart refused to open them.

const docs = [
  { id: 'run', text: 'run' },
  { id: 'running', text: 'running shoes' },
]

t.test('a search held mid-embedding while its collection is dropped and re-created leaves no stale lexical index', async (t) => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb', lexical: { stemming: 'porter' } } })
  await app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: docs } })

  const gate = await gateNextEmbed(app, 'query')
  const dropQueued = deferred()
  onLifecyclePoint(app, { 'lock-wait': (_name, mode) => (mode === 'exclusive' ? dropQueued.resolve() : undefined) })
  const search = app.inject({ method: 'POST', url: '/v1/collections/kb/search', payload: { query: 'running', top_k: 5, mode: 'hybrid' } })
  await gate.reached
  const drop = app.inject({ method: 'DELETE', url: '/v1/collections/kb' })
  // The drop either waits behind the search or (without ordering) completes first; then the search goes on.
  await Promise.race([dropQueued.promise, drop])
  gate.release()
  const [searched, dropped] = await Promise.all([search, drop])
  t.equal(dropped.statusCode, 200, 'the drop succeeds')
  t.equal(searched.statusCode, 200, 'the search that started first finishes on the collection it started on')

  const created = await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb', lexical: { stemming: 'none' } } })
  t.equal(created.statusCode, 201)
  await app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: docs } })
  const lexical = async () => (await ctx.app.inject({ method: 'POST', url: '/v1/collections/kb/search', payload: { query: 'run', top_k: 5, mode: 'lexical' } })).json()
  t.same((await lexical()).results.map((r: { id: string }) => r.id), ['run'], "the re-created collection does not stem: 'run' no longer matches 'running'")

  const restarted = await ctx.restart()
  t.equal((await restarted.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'a restart opens the re-created collection')
  t.same((await lexical()).results.map((r: { id: string }) => r.id), ['run'], 'and its lexical index keeps the new settings')
})
