import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'

// DenseIndex.save serialises the graph on a libuv worker thread (it held the event loop for seconds
// at a million 768-dim vectors). Searches run meanwhile; mutations must wait, because hnswlib does not
// guard its graph against a writer while another thread reads it for the file.

const DIMS = 8
const settings = { dims: DIMS, m: 16, efConstruction: 100, efSearch: 64 }
const vectorFor = (label: number) => Float32Array.from({ length: DIMS }, (_, i) => Math.sin(label * 0.37 + i * 1.3))

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-save-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('while a save runs: searches are answered, mutations are refused until whenWritable settles', async (t) => {
  const dir = await tempDir(t)
  const index = DenseIndex.create(settings, 64)
  for (let label = 1; label <= 2000; label++) index.upsert(label, vectorFor(label))
  t.equal(index.whenWritable(), undefined, 'writable before any save')

  const saving = index.save(path.join(dir, 'kb'))
  const pending = index.whenWritable()
  t.ok(pending instanceof Promise, 'a save in progress is announced at once, before its first await')
  t.equal(index.search(vectorFor(1234), 1)[0]?.label, 1234, 'a search runs while the worker thread reads the graph')
  t.throws(() => index.upsert(5000, vectorFor(5000)), /the index is being saved: await whenWritable\(\) before mutating it/)
  t.throws(() => index.remove(3), /being saved/)
  await t.rejects(index.save(path.join(dir, 'other')), /a save of this index is already running/)

  await pending
  t.equal(index.whenWritable(), undefined, 'writable again once the graph has been written')
  index.upsert(5000, vectorFor(5000))
  await saving
  const loaded = (await DenseIndex.load(path.join(dir, 'kb'), settings)).index!
  t.equal(loaded.size, 2000, 'the file holds the graph as it was when the save began')
  t.equal(loaded.search(vectorFor(777), 1)[0]?.label, 777)
  t.equal(index.size, 2001)
})

t.test('the embedded backend makes an upsert and a delete wait for a save in progress, then applies them', async (t) => {
  const dataDir = await tempDir(t)
  const backend = new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 60_000, log: () => undefined })
  t.teardown(() => backend.close())
  await backend.createCollection({ name: 'docs', model: 'm', dims: DIMS, index_dims: DIMS, index: { m: 16, ef_construction: 100, ef_search: 64 }, settings: { lexical: { stemming: 'porter' } } })
  await backend.upsert('docs', Array.from({ length: 300 }, (_, i) => ({ id: `d${i}`, text: `doc ${i}`, metadata: null, vector: vectorFor(i) })))

  // Start a save and wait (microtasks only, so the worker's completion cannot be delivered) until it is reading the graph.
  const saving = backend.saveIndex('docs', true)
  const index = (backend as unknown as { indexes: Map<string, DenseIndex> }).indexes.get('docs')!
  for (let i = 0; i < 100 && index.whenWritable() === undefined; i++) await Promise.resolve()
  t.ok(index.whenWritable() !== undefined, 'the save is reading the graph')

  const upserted = backend.upsert('docs', [{ id: 'late', text: 'late doc', metadata: null, vector: vectorFor(9999) }])
  const deleted = backend.delete('docs', ['d0'])
  const found = await backend.denseSearch('docs', { vector: vectorFor(42), limit: 1, oversample: 1, rescoreDims: DIMS })
  t.equal(found.hits[0]?.id, 'd42', 'searches are served during the save')
  await upserted
  t.same(await deleted, ['d0'])
  await saving

  const saved = (await DenseIndex.load(path.join(dataDir, 'indexes', 'docs'), settings)).index!
  t.equal(saved.size, 300, 'the saved file is the graph from before the waiting writes')
  const late = await backend.denseSearch('docs', { vector: vectorFor(9999), limit: 1, oversample: 1, rescoreDims: DIMS })
  t.equal(late.hits[0]?.id, 'late', 'the upsert that waited is applied')
  const gone = await backend.denseSearch('docs', { vector: vectorFor(0), limit: 3, oversample: 1, rescoreDims: DIMS })
  t.notOk(gone.hits.some((h) => h.id === 'd0'), 'the delete that waited is applied')
})
