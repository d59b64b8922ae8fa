import t from 'tap'
import { buildApp } from '../../src/app.js'
import { buildTestApp } from '../helpers/app.js'
import { deferred } from '../helpers/lifecycle-gates.js'

// Finding 10 of issue 13: the pipeline plugin opened every index before boot finished, so a busy host
// (or a big data folder) ran past Fastify's plugin timeout and the server never started. Opening is
// now background work behind /readyz; here one collection's opening is held indefinitely.

t.test('boot finishes while indexes are still opening; /readyz names what it waits for; requests queue until open', async (t) => {
  const ctx = await buildTestApp(t)
  for (const name of ['fast', 'slow']) {
    await ctx.app.inject({ method: 'POST', url: '/v1/collections', payload: { name } })
    await ctx.app.inject({ method: 'PUT', url: `/v1/collections/${name}/documents`, payload: { documents: [{ id: 'a', text: 'solar power' }] } })
  }
  await ctx.stop()

  const opening = deferred()
  const searchQueued = deferred()
  const app = await buildApp(ctx.config, { pluginTimeout: 2000 }, {
    lifecycleProbe: (point, name, detail) => {
      if (point === 'open:collection' && name === 'slow') return opening.promise
      if (point === 'lock-wait' && name === 'slow' && detail === 'shared') searchQueued.resolve()
      return undefined
    },
  })
  t.teardown(async () => {
    opening.resolve()
    await app.close()
  })
  // Held open for as long as the test likes: boot must not wait for it (before: plugin timeout).
  await app.ready()
  await app.models.embedder()
  await app.collections.lifecycle.run('fast', 'shared', () => undefined)
  const waiting = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(waiting.statusCode, 503)
  t.match(waiting.json().error.message, /opening collection indexes \(1 of 2 open, now 'slow'\)/, '/readyz says which collection it waits for')

  const search = app.inject({ method: 'POST', url: '/v1/collections/slow/search', payload: { query: 'solar', top_k: 1 } })
  await searchQueued.promise
  const fast = await app.inject({ method: 'POST', url: '/v1/collections/fast/search', payload: { query: 'solar', top_k: 1 } })
  t.equal(fast.statusCode, 200, 'an opened collection answers while another is still opening')
  opening.resolve()
  const slow = await search
  t.equal(slow.statusCode, 200, 'a request for the opening collection waits for it instead of failing')
  t.equal(slow.json().results[0].id, 'a')
  await app.collections.whenOpen
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready once every index is open')
})
