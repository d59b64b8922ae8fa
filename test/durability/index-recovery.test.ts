import { readFile, stat, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'
import { buildTestApp } from '../helpers/app.js'

const docs = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `document ${i} about ${['rivers', 'stars', 'proteins', 'markets'][i % 4]} and more ${i * 7}` }))

async function seeded(t: Test) {
  const ctx = await buildTestApp(t)
  await ctx.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c', index: { dims: 8 } } })
  await ctx.app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents: docs } })
  await ctx.app.inject({ method: 'DELETE', url: '/v1/collections/c/documents/d3' })
  const base = path.join(ctx.dataDir, 'indexes', 'c')
  const search = async () =>
    (await ctx.app.inject({ method: 'POST', url: '/v1/collections/c/search', payload: { query: docs[5]!.text, top_k: 5, oversample: 10 } })).json().results.map((r: { id: string }) => r.id) as string[]
  return { ...ctx, base, search }
}

t.test('a clean restart loads the saved index as is', async (t) => {
  const ctx = await seeded(t)
  const before = await ctx.search()
  const app = await ctx.restart()
  const saved = await stat(`${ctx.base}.hnsw`)
  const meta = JSON.parse(await readFile(`${ctx.base}.meta.json`, 'utf8'))
  t.equal(meta.bytes, saved.size)
  // Writes commit in ~20 ms transactions, each with its own sequence number (one or more for the
  // upsert, one for the delete): the saved index must be at the last one.
  const row = (app.backend as EmbeddedBackend).store.getCollection('c')!
  t.ok(row.seq >= 2, 'the upsert and the delete each committed')
  t.equal(meta.seq, row.seq, 'the index was saved at the last committed write')
  t.same(await ctx.search(), before, 'same results after restart')
  t.notOk(before.includes('d3'), 'the delete survived')
  t.equal((await stat(`${ctx.base}.hnsw`)).mtimeMs, saved.mtimeMs, 'loaded, not rebuilt')
})

for (const [what, damage] of [
  ['truncated', (base: string) => truncate(`${base}.hnsw`, 100)],
  ['missing', (base: string) => writeFile(`${base}.meta.json`, '{"version":1,"seq":2,"dims":8,"m":16,"bytes":1,"sha256":"00"}')],
  ['garbage sidecar', (base: string) => writeFile(`${base}.meta.json`, 'not json')],
  ['short but sidecar-consistent (as a full disk leaves it)', async (base: string) => {
    const bytes = (await readFile(`${base}.hnsw`)).subarray(0, 4096)
    await writeFile(`${base}.hnsw`, bytes)
    const meta = JSON.parse(await readFile(`${base}.meta.json`, 'utf8'))
    const { createHash } = await import('node:crypto')
    await writeFile(`${base}.meta.json`, JSON.stringify({ ...meta, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }))
  }],
  ['bit-flipped', async (base: string) => {
    const bytes = await readFile(`${base}.hnsw`)
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff
    await writeFile(`${base}.hnsw`, bytes)
  }],
] as const) {
  t.test(`a ${what} index file is detected and rebuilt from SQLite`, async (t) => {
    const ctx = await seeded(t)
    const before = await ctx.search()
    await ctx.stop()
    await damage(ctx.base)
    await ctx.restart()
    t.same(await ctx.search(), before, 'search is unchanged after the rebuild')
    const meta = JSON.parse(await readFile(`${ctx.base}.meta.json`, 'utf8'))
    t.equal(meta.bytes, (await stat(`${ctx.base}.hnsw`)).size, 'a fresh, consistent index was saved')
    const app = await ctx.restart()
    t.equal((await app.inject({ method: 'GET', url: '/v1/collections/c' })).json().count, 39)
  })
}
