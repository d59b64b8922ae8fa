import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { rescoreAtFullDims } from '../../src/retrieval/rescore.js'
import { l2Normalize } from '../../src/retrieval/vector-math.js'
import type { CollectionSpec, DenseResult, DocumentWrite } from '../../src/store/backend.js'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'

// Issue 16, item 3: the embedded backend rescores the HNSW shortlist from vectors kept in memory
// (`rescore_vectors`) instead of reading each candidate from SQLite. Real hnswlib, real SQLite files:
// the memory store must rank as the disk path does and follow every write, drop and restart.

const DIMS = 32
const INDEX_DIMS = 8
const N = 240
const LIMIT = 10
/** limit × oversample covers every collection here (at most 1,084 documents), so the shortlist is every document and only rescoring decides. */
const OVERSAMPLE = 120

function randomVectors(count: number, seed: number): Float32Array[] {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296 - 0.5
  }
  return Array.from({ length: count }, () => l2Normalize(Float32Array.from({ length: DIMS }, next)))
}

const DOCS: DocumentWrite[] = randomVectors(N, 3).map((vector, i) => ({ id: `d${i}`, text: `document ${i}`, metadata: { shard: i % 4 }, vector }))
const QUERIES = randomVectors(12, 5)

const spec = (name: string, rescoreVectors: string, dims = DIMS): CollectionSpec => ({
  name,
  model: 'test-model',
  dims,
  index_dims: INDEX_DIMS,
  index: { m: 16, ef_construction: 100, ef_search: 64 },
  settings: { rescore_vectors: rescoreVectors },
})

async function openBackend(t: Test, dataDir?: string): Promise<{ backend: EmbeddedBackend; dataDir: string }> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'funnel-rescore-')))
  if (dataDir === undefined) t.teardown(() => rm(dir, { recursive: true, force: true }))
  const backend = new EmbeddedBackend({ dataDir: dir, indexSaveIntervalMs: 50, log: () => undefined })
  for (const record of await backend.listCollections()) await backend.openCollection(record)
  return { backend, dataDir: dir }
}

const search = (backend: EmbeddedBackend, collection: string, vector: Float32Array, rescoreDims = DIMS): Promise<DenseResult> =>
  backend.denseSearch(collection, { vector, limit: LIMIT, oversample: OVERSAMPLE, rescoreDims })

/**
 * What rescoring from SQLite gives for the collection as it is stored now: exact cosine over every
 * stored vector, best LIMIT, as (id, score).
 */
function fromSqlite(backend: EmbeddedBackend, collection: string, query: Float32Array, rescoreDims = DIMS): { id: string; score: number }[] {
  const all = [...backend.store.iterateVectors(collection)]
  const ids = backend.store.idsByLabels(collection, all.map(([label]) => label))
  return rescoreAtFullDims(query, all, rescoreDims, LIMIT).map((s) => ({ id: ids.get(s.label)!, score: s.score }))
}

/** Every query's float32 in-memory hits equal the SQLite truth exactly (ids, order and scores). */
async function agreesWithSqlite(t: Test, backend: EmbeddedBackend, collection: string, what: string, queries = QUERIES): Promise<void> {
  let same = 0
  for (const q of queries) {
    const { hits } = await search(backend, collection, q)
    if (JSON.stringify(hits) === JSON.stringify(fromSqlite(backend, collection, q))) same++
    else t.same(hits, fromSqlite(backend, collection, q), `${what}: first disagreeing query`)
  }
  t.equal(same, queries.length, `${what}: all ${queries.length} queries rank exactly as rescoring from SQLite`)
}

t.test('rescoring from memory ranks as rescoring from SQLite: float32 exactly, float16 and int8 within tolerance', async (t) => {
  const { backend } = await openBackend(t)
  t.teardown(() => backend.close())
  for (const encoding of ['disk', 'float32', 'float16', 'int8']) {
    await backend.createCollection(spec(encoding, encoding))
    await backend.upsert(encoding, DOCS)
  }
  t.equal((await backend.collectionStats('disk')).rescore_memory_bytes, 0, 'disk keeps nothing in memory')
  t.ok((await backend.collectionStats('float32')).rescore_memory_bytes! >= N * DIMS * 4, 'float32 holds 4 bytes a dim')
  t.ok((await backend.collectionStats('int8')).rescore_memory_bytes! < (await backend.collectionStats('float16')).rescore_memory_bytes!, 'int8 holds less than float16')

  for (const [i, q] of QUERIES.entries()) {
    for (const dims of [DIMS, 16]) {
      const disk = await search(backend, 'disk', q, dims)
      t.same((await search(backend, 'float32', q, dims)).hits, disk.hits, `query ${i} at ${dims} dims: float32 ids, order and scores equal disk`)
      t.same(disk.hits, fromSqlite(backend, 'disk', q, dims), `query ${i} at ${dims} dims: the disk path is the SQLite truth`)
      const exact = new Map(disk.hits.map((h) => [h.id, h.score]))
      for (const [encoding, tolerance] of [['float16', 1e-3], ['int8', 1e-2]] as const) {
        const hits = (await search(backend, encoding, q, dims)).hits
        const overlap = hits.filter((h) => exact.has(h.id)).length
        t.ok(overlap >= LIMIT - 1, `query ${i} at ${dims} dims: ${encoding} keeps ${overlap}/${LIMIT} of the exact top ${LIMIT}`)
        const errors = hits.filter((h) => exact.has(h.id)).map((h) => Math.abs(h.score - exact.get(h.id)!))
        t.ok(Math.max(...errors) <= tolerance, `query ${i} at ${dims} dims: ${encoding} scores within ${tolerance} (worst ${Math.max(...errors).toExponential(1)})`)
      }
    }
  }
  // A selective filter takes the exact path (no HNSW): it scores from memory too.
  const filtered = await backend.denseSearch('float32', { vector: QUERIES[0]!, limit: LIMIT, oversample: 4, rescoreDims: DIMS, filter: { shard: 1 } })
  t.equal(filtered.strategy, 'exact')
  t.same(filtered.hits, (await backend.denseSearch('disk', { vector: QUERIES[0]!, limit: LIMIT, oversample: 4, rescoreDims: DIMS, filter: { shard: 1 } })).hits, 'filtered exact search equals disk')
})

t.test('replace, delete and drop keep the memory store equal to SQLite', async (t) => {
  const { backend } = await openBackend(t)
  t.teardown(() => backend.close())
  await backend.createCollection(spec('kb', 'float32'))
  await backend.upsert('kb', DOCS)
  await agreesWithSqlite(t, backend, 'kb', 'after the first upsert')

  // Replace: d7 takes d200's vector; a query equal to it now finds d7 (and d200) at cosine 1.
  const replaced = DOCS.slice(0, 40).map((d, i) => ({ ...d, vector: DOCS[(i * 7 + 100) % N]!.vector }))
  await backend.upsert('kb', replaced)
  await agreesWithSqlite(t, backend, 'kb', 'after replacing 40 vectors')
  await agreesWithSqlite(t, backend, 'kb', 'queried with replaced vectors', replaced.slice(0, 5).map((d) => d.vector))
  const top = (await search(backend, 'kb', replaced[0]!.vector)).hits.slice(0, 2)
  t.same(top.map((h) => h.id).sort(), ['d0', 'd100'], 'a replaced vector is scored by its new value')

  // Fill the store to its first capacity (1,024 rows), so a row leaked by a delete would make it grow.
  await backend.upsert('kb', randomVectors(1024 - N, 9).map((vector, i) => ({ id: `filler${i}`, text: 'filler', metadata: null, vector })))
  const bytes = (await backend.collectionStats('kb')).rescore_memory_bytes
  t.equal(bytes, 1024 * (DIMS * 4 + 8) + 2048 * 16, 'the store is full at 1,024 float32 rows (with their 8-byte norms), plus the label table (2,048 slots of 16 bytes)')
  const deleted = DOCS.filter((_, i) => i % 3 === 0).map((d) => d.id)
  t.equal((await backend.delete('kb', deleted)).length, deleted.length)
  await agreesWithSqlite(t, backend, 'kb', 'after deleting a third')
  for (const q of QUERIES) t.notOk((await search(backend, 'kb', q)).hits.some((h) => deleted.includes(h.id)), 'a deleted document is never a hit')

  // New documents take the deleted rows (and deleted HNSW slots): nothing grows.
  await backend.upsert('kb', DOCS.slice(0, 60).map((d, i) => ({ ...d, id: `new${i}`, vector: QUERIES[i % QUERIES.length]! })))
  await agreesWithSqlite(t, backend, 'kb', 'after new documents reused freed rows')
  t.equal((await backend.collectionStats('kb')).rescore_memory_bytes, bytes, 'new documents reused the deleted rows')

  // Drop and re-create with other dims and encoding: nothing of the old store survives.
  t.ok(await backend.dropCollection('kb'))
  await backend.createCollection(spec('kb', 'float32', 16))
  const small = DOCS.slice(0, 50).map((d) => ({ ...d, vector: l2Normalize(d.vector.slice(0, 16)) }))
  await backend.upsert('kb', small)
  const stats = await backend.collectionStats('kb')
  t.equal(stats.count, 50)
  t.ok(stats.rescore_memory_bytes! < bytes!, 'the re-created collection has its own, smaller store')
  const q = l2Normalize(QUERIES[0]!.slice(0, 16))
  const hits = (await backend.denseSearch('kb', { vector: q, limit: LIMIT, oversample: 5, rescoreDims: 16 })).hits
  t.same(hits, fromSqlite(backend, 'kb', q, 16), 'and ranks exactly as SQLite')
})

t.test('a restart reloads the memory store from SQLite', async (t) => {
  const first = await openBackend(t)
  for (const encoding of ['float32', 'int8', 'disk']) {
    await first.backend.createCollection(spec(encoding, encoding))
    await first.backend.upsert(encoding, DOCS)
  }
  await first.backend.delete('float32', ['d1', 'd2', 'd3'])
  await first.backend.upsert('float32', [{ ...DOCS[4]!, vector: QUERIES[0]! }])
  const before = await Promise.all(QUERIES.map((q) => search(first.backend, 'int8', q)))
  const bytesBefore = (await first.backend.collectionStats('int8')).rescore_memory_bytes
  await first.backend.close()

  const { backend } = await openBackend(t, first.dataDir)
  t.teardown(() => backend.close())
  t.equal((await backend.collectionStats('float32')).count, N - 3)
  await agreesWithSqlite(t, backend, 'float32', 'float32 after a restart')
  t.equal((await search(backend, 'float32', QUERIES[0]!)).hits[0]?.id, 'd4', 'the replaced vector came back from SQLite')
  const after = await Promise.all(QUERIES.map((q) => search(backend, 'int8', q)))
  t.same(after.map((r) => r.hits), before.map((r) => r.hits), 'int8 ranks and scores as before the restart')
  t.ok((await backend.collectionStats('int8')).rescore_memory_bytes! > 0, 'int8 store loaded')
  t.ok((await backend.collectionStats('int8')).rescore_memory_bytes! <= bytesBefore!, 'sized to the stored documents')
  t.equal((await backend.collectionStats('disk')).rescore_memory_bytes, 0, 'disk still keeps nothing in memory')
})

t.test('a collection stored without the setting (created before it existed) gets the default by its index dims', async (t) => {
  const { backend } = await openBackend(t)
  t.teardown(() => backend.close())
  await backend.createCollection({ ...spec('truncated', 'unused'), settings: {} })
  await backend.createCollection({ ...spec('full', 'unused'), index_dims: DIMS, settings: {} })
  for (const name of ['truncated', 'full']) await backend.upsert(name, DOCS.slice(0, 20))
  t.equal((await backend.collectionStats('truncated')).rescore_memory_bytes, 1024 * (DIMS * 2 + 8) + 2048 * 16, 'a truncated index rescores from float16 in memory (rows and label table)')
  t.equal((await backend.collectionStats('full')).rescore_memory_bytes, 0, 'a full-dim index reads SQLite when it rescores at all')
})
