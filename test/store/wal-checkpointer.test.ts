import Database from 'better-sqlite3'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'
import { WalCheckpointer } from '../../src/store/embedded/wal-checkpointer.js'

async function walDatabase(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-wal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'x.db')
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
  t.teardown(() => db.open && db.close())
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)')
  const write = (rows: number) => db.transaction(() => { for (let i = 0; i < rows; i++) insert.run('x'.repeat(1000)) })()
  return { db, file, write }
}

const noFailure = (t: Test) => (error: Error) => t.fail(`worker failed: ${error.message}`)

t.test('the worker checkpoints the WAL the writer filled, on its own connection (issue 13, finding 4)', async (t) => {
  const { db, file, write } = await walDatabase(t)
  const checkpointer = await WalCheckpointer.start(file, { intervalMs: 3_600_000, log: () => undefined, onFailure: noFailure(t) })
  write(2000)
  const walBytes = (await stat(`${file}-wal`)).size
  t.ok(walBytes > 1_000_000, `the WAL holds the writes (${walBytes} bytes)`)
  const result = await checkpointer.checkpoint()
  t.ok(result.log > 400, `frames in the WAL: ${result.log}`)
  t.equal(result.checkpointed, result.log, 'with no reader every frame is copied')
  t.equal(result.busy, 0)
  write(1)
  const [after] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[]
  t.ok(after!.log < 10, `the next write restarted the WAL from its start (${after!.log} frames)`)
  t.equal((await stat(`${file}-wal`)).size, walBytes, 'so the file stops growing')
  t.equal((db.prepare('SELECT count(*) FROM t').pluck().get() as number), 2001)
  await checkpointer.close()
  await t.rejects(checkpointer.checkpoint(), /closed/, 'no checkpoint after close')
})

t.test('a PASSIVE checkpoint stops at frames a reader still needs and never blocks the writer', async (t) => {
  const { file, write } = await walDatabase(t)
  write(10)
  const reader = new Database(file)
  t.teardown(() => reader.open && reader.close())
  reader.prepare('BEGIN').run()
  reader.prepare('SELECT count(*) FROM t').get()
  write(500)
  const checkpointer = await WalCheckpointer.start(file, { intervalMs: 3_600_000, log: () => undefined, onFailure: noFailure(t) })
  t.teardown(() => checkpointer.close())
  const held = await checkpointer.checkpoint()
  t.ok(held.checkpointed < held.log, `frames past the reader's snapshot wait (${held.checkpointed} of ${held.log})`)
  write(10)
  reader.prepare('COMMIT').run()
  const done = await checkpointer.checkpoint()
  t.equal(done.checkpointed, done.log, 'once the reader is gone the rest is copied')
})

t.test('the interval runs checkpoints by itself, one at a time', async (t) => {
  const { file, write } = await walDatabase(t)
  const checkpointer = await WalCheckpointer.start(file, { intervalMs: 20, quietMs: 0, log: () => undefined, onFailure: noFailure(t) })
  t.teardown(() => checkpointer.close())
  write(500)
  const [a, b] = await Promise.all([checkpointer.checkpoint(), checkpointer.checkpoint()])
  t.equal(a, b, 'a call during a running checkpoint shares its result')
  write(500)
  checkpointer.noteWrite()
  const size = (await stat(`${file}-wal`)).size
  await new Promise((resolve) => setTimeout(resolve, 1000))
  write(1)
  // Had nothing checkpointed the 500 rows, this write would have been appended past them.
  t.equal((await stat(`${file}-wal`)).size, size, 'the timer checkpointed meanwhile: the write went to the start of the WAL')
})

t.test('while writes keep coming the checkpoint waits for a quiet moment, unless the WAL grows past maxWalBytes', async (t) => {
  const { file, write } = await walDatabase(t)
  const checkpointer = await WalCheckpointer.start(file, { intervalMs: 10, quietMs: 1500, maxWalBytes: 10_000_000, log: () => undefined, onFailure: noFailure(t) })
  t.teardown(() => checkpointer.close())
  await new Promise((resolve) => setTimeout(resolve, 60)) // the first tick checkpoints the empty WAL
  const sizes: number[] = []
  for (let i = 0; i < 10; i++) {
    write(20)
    checkpointer.noteWrite()
    sizes.push((await stat(`${file}-wal`)).size)
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  t.ok(sizes.every((size, i) => i === 0 || size > sizes[i - 1]!), 'no checkpoint during the burst: every write appended to the WAL')
  const grown = (await stat(`${file}-wal`)).size
  await new Promise((resolve) => setTimeout(resolve, 2500))
  write(1)
  t.equal((await stat(`${file}-wal`)).size, grown, 'after the quiet period the WAL was checkpointed: the next write went to its start')

  const big = await walDatabase(t)
  const eager = await WalCheckpointer.start(big.file, { intervalMs: 10, quietMs: 60_000, maxWalBytes: 200_000, log: () => undefined, onFailure: noFailure(t) })
  t.teardown(() => eager.close())
  await new Promise((resolve) => setTimeout(resolve, 60))
  big.write(400)
  eager.noteWrite()
  const walSize = (await stat(`${big.file}-wal`)).size
  t.ok(walSize > 200_000)
  await new Promise((resolve) => setTimeout(resolve, 500))
  eager.noteWrite()
  big.write(1)
  t.equal((await stat(`${big.file}-wal`)).size, walSize, 'a WAL past maxWalBytes is checkpointed although writes keep coming')
})

t.test('the embedded backend checkpoints on the worker once opened, and stops it on close', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-wal-backend-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const backend = new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 50, log: () => undefined, checkpointIntervalMs: 3_600_000 })
  t.equal(await backend.checkpoint(), undefined, 'no worker before afterOpen')
  await backend.afterOpen()
  await backend.createCollection({ name: 'c', model: 'm', dims: 2, index_dims: 2, index: { m: 16, ef_construction: 100, ef_search: 64 }, settings: {} })
  await backend.upsert('c', Array.from({ length: 300 }, (_, i) => ({ id: `d${i}`, text: 'y'.repeat(4000), metadata: null, vector: Float32Array.of(1, i) })))
  const result = await backend.checkpoint()
  t.ok(result !== undefined && result.log > 300 && result.checkpointed === result.log, `the write's frames were checkpointed by the worker (${result?.checkpointed} of ${result?.log})`)
  await backend.close()
  const reopened = new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 50, log: () => undefined })
  for (const row of await reopened.listCollections()) await reopened.openCollection(row)
  t.equal((await reopened.collectionStats('c')).count, 300)
  await reopened.close()
})
