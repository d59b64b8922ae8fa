import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { TEST_MODEL, buildTestApp, fixtureModelsDir, ready } from '../helpers/app.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

const docs = Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, text: `document ${i} about ${['rivers', 'stars', 'proteins'][i % 3]}`, metadata: { i } }))

for (const [what, damage] of [
  ['overwritten with garbage bytes', (file: string) => writeFile(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)))],
  ['truncated to half its size', async (file: string) => truncate(file, Math.floor((await readFile(file)).length / 2))],
] as const) {
  t.test(`a model file ${what}: the app starts, is live, not ready, and the data is untouched`, async (t) => {
    const modelsDir = await fixtureModelsDir()
    t.teardown(() => rm(modelsDir, { recursive: true, force: true }))
    // Seed data with the healthy model, then stop cleanly.
    const ctx = await buildTestApp(t, { modelsDir })
    t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c', index: { dims: 8 } } })).statusCode, 201)
    t.equal((await ctx.app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents: docs } })).statusCode, 200)
    await ctx.stop()

    const onnx = path.join(modelsDir, TEST_MODEL, 'onnx', 'model.onnx')
    await damage(onnx)

    const app = await buildApp(loadConfig({}, { dataDir: ctx.dataDir, modelsDir, logLevel: 'silent', embeddingModel: TEST_MODEL, buildDefaultModel: false }))
    let closed = false
    t.teardown(() => (closed ? undefined : app.close()))
    await app.ready()
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on models')
    let res = await app.inject({ method: 'GET', url: '/readyz' })
    for (let i = 0; i < 250 && !/failed to load/.test(res.body); i++) {
      await new Promise((r) => setTimeout(r, 20))
      res = await app.inject({ method: 'GET', url: '/readyz' })
    }
    t.equal(res.statusCode, 503)
    t.equal(res.json().error.code, 'not_ready')
    t.match(res.json().error.message, new RegExp(`${TEST_MODEL}.*failed to load`), 'the message names the model and says it failed to load')

    // Stored data is still readable without the model.
    const doc = await app.inject({ method: 'GET', url: '/v1/collections/c/documents/d4' })
    t.equal(doc.statusCode, 200, 'documents remain readable')
    t.equal(doc.json().text, docs[4]!.text)
    const search = await app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: 'rivers', top_k: 3 } })
    t.ok(search.statusCode >= 500 && search.statusCode < 600, `search needing the broken model fails cleanly (${search.statusCode})`)
    t.ok(search.json().error?.code, 'in the error shape')
    await app.close()
    closed = true

    // Repair the model: everything is back and intact.
    await cp(path.join(await fixtureModelDir('tiny-bert-mean'), 'onnx', 'model.onnx'), onnx)
    const healed = await ready(await buildApp(loadConfig({}, { dataDir: ctx.dataDir, modelsDir, logLevel: 'silent', embeddingModel: TEST_MODEL, buildDefaultModel: false })))
    t.teardown(() => healed.close())
    t.equal((await healed.inject({ method: 'GET', url: '/v1/collections/c' })).json().count, docs.length, 'no document was lost')
    for (const d of docs) t.equal((await healed.inject({ method: 'GET', url: `/v1/collections/c/documents/${d.id}` })).json().text, d.text)
    const found = await healed.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: docs[7]!.text, top_k: 1, filter: { i: 7 } } })
    t.same(found.json().results.map((r: { id: string }) => r.id), ['d7'], 'search works again')
  })
}
