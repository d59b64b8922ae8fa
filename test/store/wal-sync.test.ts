import Database from 'better-sqlite3'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'
import { WalSync } from '../../src/store/embedded/wal-sync.js'

async function dataDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-walsync-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** An fsync stand-in that records each call and completes only when the test releases it. */
function heldFsync() {
  const calls: { release: () => void }[] = []
  let onCall: (() => void) | undefined
  const fsync = async (_fd: number) => {
    await new Promise<void>((release) => {
      calls.push({ release })
      onCall?.()
    })
  }
  const nextCall = () => new Promise<void>((resolve) => (onCall = resolve))
  return { calls, fsync, nextCall }
}

const settled = (p: Promise<unknown>) => {
  const state = { done: false }
  p.then(
    () => (state.done = true),
    () => (state.done = true),
  )
  return state
}
const ticks = () => new Promise((resolve) => setTimeout(resolve, 20))

const spec = (name: string) => ({ name, model: 'm', dims: 2, index_dims: 2, index: { m: 16, ef_construction: 100, ef_search: 64 }, settings: {} })

t.test('syncs asked for during a running fsync share the next one (group commit)', async (t) => {
  const dir = await dataDir(t)
  const file = path.join(dir, 'x')
  await import('node:fs/promises').then((fs) => fs.writeFile(file, 'wal'))
  const held = heldFsync()
  const sync = new WalSync(file, { fsync: held.fsync })
  const first = settled(sync.sync())
  await ticks()
  t.equal(held.calls.length, 1, 'the first sync starts an fsync')
  const later = [sync.sync(), sync.sync(), sync.sync()]
  const laterState = later.map(settled)
  await ticks()
  t.equal(held.calls.length, 1, 'syncs asked for while it runs do not start their own')
  held.calls[0]!.release()
  await ticks()
  t.ok(first.done, 'the first sync resolves with its fsync')
  t.notOk(laterState.some((s) => s.done), 'the later ones wait: their commits may postdate the running fsync')
  t.equal(held.calls.length, 2, 'one more fsync serves all three')
  held.calls[1]!.release()
  await Promise.all(later)
  t.equal(held.calls.length, 2)
  await sync.close()
  await t.rejects(sync.sync(), /closed/)
})

t.test('a failed fsync rejects its callers and the next sync tries again', async (t) => {
  const dir = await dataDir(t)
  let fail = true
  t.throws(() => new WalSync(path.join(dir, 'missing-wal'), {}), { code: 'ENOENT' }, 'a WAL file that is not there is an error, not a silent success')
  const file = path.join(dir, 'x')
  await import('node:fs/promises').then((fs) => fs.writeFile(file, 'wal'))
  const flaky = new WalSync(file, {
    fsync: async () => {
      if (fail) throw new Error('EIO')
    },
  })
  await t.rejects(flaky.sync(), /EIO/)
  fail = false
  await flaky.sync()
  await flaky.close()
})

t.test('the WAL stays syncable when its path is removed under a running server', async (t) => {
  const dir = await dataDir(t)
  const backend = new EmbeddedBackend({ dataDir: dir, indexSaveIntervalMs: 50, log: () => undefined, checkpointIntervalMs: 3_600_000 })
  await backend.afterOpen()
  await rm(`${backend.store.file}-wal`)
  await backend.createCollection(spec('c'))
  await backend.upsert('c', [{ id: 'a', text: 'alpha', metadata: null, vector: Float32Array.of(1, 0) }])
  t.equal(backend.store.countDocuments('c'), 1, 'writes are still acknowledged: the descriptor outlives the path')
  await backend.close()
})

t.test('the store commits without fsync and a write is acknowledged only after the WAL is synced (issue 13, finding 4)', async (t) => {
  const dir = await dataDir(t)
  const held = heldFsync()
  const backend = new EmbeddedBackend({ dataDir: dir, indexSaveIntervalMs: 50, log: () => undefined, checkpointIntervalMs: 3_600_000, walFsync: held.fsync })
  await backend.afterOpen()
  t.equal(backend.store.db.pragma('synchronous', { simple: true }), 1, 'synchronous = NORMAL: no fsync inside COMMIT, on the event loop')

  const creating = backend.createCollection(spec('c'))
  await held.nextCall()
  t.notOk(settled(creating).done, 'create waits for the WAL fsync')
  held.calls.at(-1)!.release()
  await creating

  const reader = new Database(backend.store.file, { readonly: true })
  t.teardown(() => reader.close())
  const upserting = backend.upsert('c', [{ id: 'a', text: 'alpha', metadata: null, vector: Float32Array.of(1, 0) }])
  const state = settled(upserting)
  await held.nextCall()
  t.equal(reader.prepare('SELECT count(*) FROM documents').pluck().get(), 1, 'the fsync runs after the commit (another connection sees the row)')
  await ticks()
  t.notOk(state.done, 'the upsert is not acknowledged while the fsync is held')
  held.calls.at(-1)!.release()
  await upserting

  const deleting = backend.delete('c', ['a'])
  await held.nextCall()
  await ticks()
  t.notOk(settled(deleting).done, 'nor is a delete')
  held.calls.at(-1)!.release()
  t.same(await deleting, ['a'])

  const dropping = backend.dropCollection('c')
  await held.nextCall()
  held.calls.at(-1)!.release()
  t.equal(await dropping, true)

  const saving = backend.calibrators.save([{ model: 'm', stage: 'dense', calibrator: { method: 'platt', a: 1, b: 0 } as never, metrics: {} as never }])
  await held.nextCall()
  await ticks()
  t.notOk(settled(saving).done, 'nor is a calibrator save')
  held.calls.at(-1)!.release()
  await saving
  await backend.close()
})

t.test('with the real fsync, writes are acknowledged and survive a reopen', async (t) => {
  const dir = await dataDir(t)
  const backend = new EmbeddedBackend({ dataDir: dir, indexSaveIntervalMs: 50, log: () => undefined })
  await backend.afterOpen()
  await backend.createCollection(spec('c'))
  await Promise.all(Array.from({ length: 5 }, (_, i) => backend.upsert('c', [{ id: `d${i}`, text: `text ${i}`, metadata: null, vector: Float32Array.of(1, i) }])))
  await backend.close()
  const reopened = new EmbeddedBackend({ dataDir: dir, indexSaveIntervalMs: 50, log: () => undefined })
  t.teardown(() => reopened.close())
  t.equal(reopened.store.countDocuments('c'), 5)
})
