import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { buildTestApp } from '../helpers/app.js'

// Finding 6 of issue 13: deleted vectors were never reclaimed (labels never reused, so memory and file
// grew with every insert ever made) and DenseIndex.load counted deleted points as live.

const settings = { dims: 8, m: 16, efConstruction: 100, efSearch: 64 }
/** A unit-ish vector that differs per label, so nearest-neighbour answers are checkable. */
const vectorFor = (label: number) => Float32Array.from({ length: 8 }, (_, i) => Math.sin(label * 0.37 + i * 1.3))

t.test('deleted slots are reused by new labels, and a reload counts only live points', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-hnsw-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const index = DenseIndex.create(settings, 16)
  for (let label = 1; label <= 500; label++) index.upsert(label, vectorFor(label))
  for (let label = 1; label <= 400; label++) index.remove(label)
  t.equal(index.size, 100)
  t.equal(index.deletedSlots, 400, 'deleted points hold slots until reused')
  await index.save(path.join(dir, 'kb'))

  const loaded = (await DenseIndex.load(path.join(dir, 'kb'), settings)).index!
  t.equal(loaded.size, 100, 'a reload counts live points only')
  t.equal(loaded.deletedSlots, 400)
  for (let label = 501; label <= 800; label++) loaded.upsert(label, vectorFor(label))
  t.equal(loaded.size, 400)
  t.equal(loaded.deletedSlots, 100, 'new labels took deleted slots instead of growing the index')
  t.equal(loaded.search(vectorFor(650), 1)[0]?.label, 650, 'a point in a reused slot is found')
  t.notOk(loaded.search(vectorFor(3), 400).some((n) => n.label <= 400), 'deleted labels never come back')

  loaded.remove(700)
  loaded.upsert(700, vectorFor(700))
  t.equal(loaded.size, 400, 'a deleted label upserted again is revived in place')
  t.equal(loaded.search(vectorFor(700), 1)[0]?.label, 700)
})

t.test('after deletes and a restart the API and metrics count live vectors and report unreclaimed slots', async (t) => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'kb' } })
  const docs = Array.from({ length: 200 }, (_, i) => ({ id: `d${i}`, text: `document ${i} on subject ${i % 13}` }))
  await app.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: docs } })
  for (let i = 0; i < 150; i++) await app.inject({ method: 'DELETE', url: `/v1/collections/kb/documents/d${i}` })

  const restarted = await ctx.restart()
  const gauge = (text: string, name: string) => Number(new RegExp(`^${name}\\{collection="kb"\\} (\\S+)$`, 'm').exec(text)?.[1])
  const scrape = async () => (await restarted.inject({ method: 'GET', url: '/metrics' })).body
  let text = await scrape()
  t.equal(gauge(text, 'funnel_collection_documents'), 50)
  t.equal(gauge(text, 'funnel_collection_index_vectors'), 50, 'index vectors count live points after a restart')
  t.equal(gauge(text, 'funnel_collection_index_deleted_vectors'), 150, 'deleted-but-unreclaimed vectors are exported')

  const more = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, text: `new document ${i}` }))
  await restarted.inject({ method: 'PUT', url: '/v1/collections/kb/documents', payload: { documents: more } })
  text = await scrape()
  t.equal(gauge(text, 'funnel_collection_index_vectors'), 150)
  t.equal(gauge(text, 'funnel_collection_index_deleted_vectors'), 50, 'new documents reused deleted slots')
})
