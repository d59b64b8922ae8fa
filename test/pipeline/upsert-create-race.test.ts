import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/app.js'
import { deferred, gateNextEmbed, onLifecyclePoint } from '../helpers/lifecycle-gates.js'

// Finding 2 of issue 13: create() committed the row, then awaited removing old index files before
// registering the dense index; an upsert finishing in that gap committed to SQLite and FTS, answered
// 404, and its documents never reached HNSW (nor did a restart put them there).

const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, text: `${prefix} document ${i} about topic ${i % 7}` }))

/** Stored documents and live HNSW vectors of one collection. */
async function counts(app: FastifyInstance, name: string): Promise<{ documents: number; vectors: number }> {
  const stats = await app.backend.collectionStats(name)
  return { documents: stats.count, vectors: stats.index_vectors }
}

t.test('an upsert arriving while create() is between commit and index registration is acknowledged and indexed', async (t) => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  const docs = batch('u', 150)
  let upsert: Promise<{ statusCode: number }> | undefined
  const upsertQueued = deferred()
  onLifecyclePoint(app, {
    'create:commit': async () => {
      upsert = app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: docs } })
      // Hold the create until the upsert has either queued behind it or finished inside its gap.
      await Promise.race([upsertQueued.promise, upsert])
    },
    'lock-wait': (_name, mode) => (mode === 'shared' ? upsertQueued.resolve() : undefined),
  })
  const created = await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb' } })
  t.equal(created.statusCode, 201)
  const upserted = await upsert!
  t.equal(upserted.statusCode, 200, 'the upsert is acknowledged')
  t.same(await counts(app, 'kb'), { documents: 150, vectors: 150 }, 'every acknowledged document is in SQLite and in HNSW')
  const restarted = await ctx.restart()
  t.same(await counts(restarted, 'kb'), { documents: 150, vectors: 150 }, 'and still after a restart')
})

t.test('an upsert racing a drop and re-create is either acknowledged and indexed, or refused and not stored', async (t) => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb' } })
  await app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: batch('old', 20) } })

  const gate = await gateNextEmbed(app, 'document')
  const upsert = app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: batch('u', 150) } })
  await gate.reached
  onLifecyclePoint(app, {
    // With ordering the drop queues behind the held upsert: let the upsert go.
    'lock-wait': (_name, mode) => (mode === 'exclusive' ? gate.release() : undefined),
    // Without ordering the drop and the new create run at once: let the upsert finish inside create's gap.
    'create:commit': async () => {
      gate.release()
      await upsert
    },
  })
  const drop = app.inject({ method: 'DELETE', url: '/v1/collections/kb' })
  const recreate = drop.then(() => app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb' } }))
  const [upserted, dropped, created] = await Promise.all([upsert, drop, recreate])
  t.equal(dropped.statusCode, 200)
  t.equal(created.statusCode, 201)
  const stored = (await app.backend.documents('kb', ['u0', 'u149'])).size
  if (upserted.statusCode === 200) t.pass('upsert acknowledged (before the drop)')
  else t.equal(stored, 0, `an upsert answered ${upserted.statusCode} must not leave its documents stored`)
  const now = await counts(app, 'kb')
  t.equal(now.vectors, now.documents, 'documents and HNSW vectors agree')
  const restarted = await ctx.restart()
  const after = await counts(restarted, 'kb')
  t.equal(after.vectors, after.documents, 'and agree after a restart')
})

t.test('startup repairs a dense index that misses stored documents (replay cannot see them)', async (t) => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb' } })
  await app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: batch('a', 30) } })
  const vector = (await app.backend.vectors('kb', ['a0'])).get('a0')!
  await ctx.stop()
  // The state an older version left behind: documents committed with no vectors in the saved index,
  // at a sequence number the saved index already covers (1: the first batch), so replaying newer writes skips them.
  const { SqliteStore } = await import('../../src/store/embedded/sqlite-store.js')
  const store = new SqliteStore(ctx.config.dataDir + '/funnel.db')
  store.transaction(() => store.upsertDocuments('kb', batch('lost', 10).map((d) => ({ ...d, metadata: null, vector }))))
  store.db.prepare("UPDATE documents SET seq = 1 WHERE id LIKE 'lost%'").run()
  store.close()

  const restarted = await ctx.restart()
  t.same(await counts(restarted, 'kb'), { documents: 40, vectors: 40 }, 'the dense index is rebuilt from SQLite at boot')
  const hits = (await restarted.inject({ method: 'POST', url: '/v1/collections/kb/search', payload: { query: 'a document 0 about topic 0', top_k: 40, mode: 'dense' } })).json()
  t.ok(hits.results.some((r: { id: string }) => r.id.startsWith('lost')), 'the repaired documents are searchable')
})
