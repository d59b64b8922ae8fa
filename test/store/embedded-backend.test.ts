import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { INLINE_DF_TERMS } from '../../src/retrieval/bm25-index.js'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'
import { backendConformance } from './backend-conformance.js'

// The embedded backend (SQLite + hnswlib + FTS5) against the contract every backend keeps.
backendConformance(t, 'embedded', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-backend-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  return { open: async () => new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 50, log: () => undefined }) }
})

// Issue 13, finding 4: a long document's df changes are queued in its write and applied afterwards.
const DIMS = 4
const vector = (i: number): Float32Array => Float32Array.from({ length: DIMS }, (_, j) => (j === i % DIMS ? 1 : 0))
const longText = (n: number, prefix: string): string => Array.from({ length: n }, (_, i) => `${prefix}${i.toString(36)}x`).join(' ')
const spec = (name: string, stemming: 'porter' | 'none' = 'porter') => ({
  name,
  model: 'test-model',
  dims: DIMS,
  index_dims: DIMS,
  index: { m: 16, ef_construction: 100, ef_search: 64 },
  settings: { lexical: { stemming } },
})

/** A gate the backend's background df steps wait on: steps run only while it is open. */
function gate() {
  let open = false
  let waiters: (() => void)[] = []
  return {
    wait: () => (open ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    open() {
      open = true
      for (const resume of waiters.splice(0)) resume()
    },
    get waiting() {
      return waiters.length
    },
    reset: () => ((open = false), (waiters = [])),
  }
}

t.test('a long document is searchable at once; its df is applied in background steps, across drop, re-create and restart', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-backend-df-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const held = gate()
  const open = () => new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 50, log: () => undefined, beforeDfStep: held.wait })
  let backend = await open()
  await backend.afterOpen()
  await backend.createCollection(spec('docs'))
  await backend.upsert('docs', [
    { id: 'long', text: `${longText(INLINE_DF_TERMS + 500, 'zq')} castle`, metadata: null, vector: vector(0) },
    { id: 'short', text: 'the castle', metadata: null, vector: vector(1) },
  ])
  t.ok(backend.pendingDocumentFrequencyTerms('docs') >= INLINE_DF_TERMS + 500, 'the write queued its df changes')
  t.same((await backend.lexicalSearch('docs', { query: 'zq0x', limit: 5 })).map((h) => h.id), ['long'], 'searchable before df is applied')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(held.waiting, 1, 'one background step is waiting')
  // Feedback reads its own writes' df: termStatistics applies what was queued before it, in steps.
  let stats = await backend.termStatistics('docs', [])
  t.equal(backend.pendingDocumentFrequencyTerms('docs'), 0, 'termStatistics applied the queue although the background step is held')
  t.same(Object.fromEntries(stats.documentFrequencies(['zq0x', 'castl'])), { zq0x: 1, castl: 2 }, 'df exact')

  // Restart with a queue: close stops the drain, the next open resumes it.
  await backend.upsert('docs', [{ id: 'long3', text: longText(INLINE_DF_TERMS + 50, 'zq'), metadata: null, vector: vector(1) }])
  t.ok(backend.pendingDocumentFrequencyTerms('docs') > 0)
  const closing = backend.close()
  held.open()
  await closing
  held.reset()
  backend = await open()
  for (const row of await backend.listCollections()) await backend.openCollection(row)
  await backend.afterOpen()
  t.ok(backend.pendingDocumentFrequencyTerms('docs') > 0, 'the queue survived the restart')
  held.open()
  await backend.whenIdle()
  t.equal(backend.pendingDocumentFrequencyTerms('docs'), 0, 'the reopened backend applied it in the background')
  stats = await backend.termStatistics('docs', [])
  t.same(Object.fromEntries(stats.documentFrequencies(['zq0x', 'castl'])), { zq0x: 2, castl: 2 }, 'df exact once applied')

  // A drop while a step is held: the step finds the collection gone and touches nothing; a
  // re-created collection of the same name starts with its own tables and settings.
  held.reset()
  await backend.upsert('docs', [{ id: 'long2', text: longText(INLINE_DF_TERMS + 10, 'qz'), metadata: null, vector: vector(2) }])
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(held.waiting, 1)
  t.equal(await backend.dropCollection('docs'), true)
  await backend.createCollection(spec('docs', 'none'))
  await backend.upsert('docs', [{ id: 'fresh', text: 'castles running', metadata: null, vector: vector(3) }])
  held.open()
  await backend.whenIdle()
  t.equal(backend.pendingDocumentFrequencyTerms('docs'), 0)
  stats = await backend.termStatistics('docs', [])
  t.same(Object.fromEntries(stats.documentFrequencies(['castles', 'qz0x', 'castl'])), { castles: 1, qz0x: 0, castl: 0 }, 'the new collection has only its own df, unstemmed')
  await backend.close()
  backend = await open()
  for (const row of await backend.listCollections()) await backend.openCollection(row)
  t.same((await backend.lexicalSearch('docs', { query: 'castles', limit: 5 })).map((h) => h.id), ['fresh'], 'reopens cleanly')
  await backend.close()
})

// A large upsert commits in several transactions (write slices). When the disk fills in a later one,
// the error names how many documents the earlier ones wrote, and the HNSW index keeps nothing of the
// transaction SQLite rolled back. The full disk is SQLite's own: max_page_count stops the file growing.
t.test('a disk that fills mid-upsert: the error counts what was written, the index matches SQLite', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-backend-full-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  // writeSliceMs 0: one chunk (here one document of > 12,000 characters) per transaction.
  const backend = new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 60_000, writeSliceMs: 0, log: () => undefined })
  t.teardown(() => backend.close())
  await backend.afterOpen()
  const doc = (prefix: string, i: number) => ({ id: `${prefix}${i}`, text: longText(2500, `${prefix}${i}w`), metadata: null, vector: vector(i) })
  const db = backend.store.db
  const pages = () => db.pragma('page_count', { simple: true }) as number
  // What two such documents cost in pages, measured on a collection of their own.
  await backend.createCollection(spec('probe'))
  await backend.upsert('probe', [doc('p', 0)])
  const before = pages()
  await backend.upsert('probe', [doc('p', 1), doc('p', 2)])
  const twoDocs = pages() - before
  t.ok(twoDocs > 4, `two documents took ${twoDocs} pages`)

  await backend.createCollection(spec('full'))
  await backend.upsert('full', [doc('a', 0)])
  // Room for two more documents and a quarter, not three.
  db.pragma(`max_page_count = ${pages() + twoDocs + Math.floor(twoDocs / 4)}`)
  const batch = [1, 2, 3, 4, 5].map((i) => doc('a', i))
  await t.rejects(backend.upsert('full', batch), {
    code: 'insufficient_storage',
    message: /the first 2 of 5 documents were written before it filled and the rest were not stored; .*retry the whole batch/,
  })
  t.same((await backend.collectionStats('full')).count, 3, 'the first document and the two the error names')
  const ids = (await backend.denseSearch('full', { vector: vector(3), limit: 10, oversample: 4, rescoreDims: DIMS })).hits.map((h) => h.id).sort()
  t.same(ids, ['a0', 'a1', 'a2'], 'HNSW answers only what SQLite holds (the rolled-back document is not in the index)')
  db.pragma('max_page_count = 1073741823')
  await backend.upsert('full', batch)
  t.same((await backend.collectionStats('full')).count, 6, 'the whole batch again, once there is room: idempotent')
})
