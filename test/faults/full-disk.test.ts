import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { TEST_MODEL, fixtureModelsDir } from '../helpers/app.js'
import { startServer, waitForExit, type ServerProcess } from '../helpers/server-process.js'

const json = async (url: string, method: string, body?: unknown) => {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

const BATCH = 5
const text = (batch: number, i: number) => `batch ${batch} item ${i} ` + `filler text about rivers and stars number ${batch * 10 + i} `.repeat(400)
/** A query for one document: its text cut under FUNNEL_MAX_QUERY_CHARS (the embedder truncates both to the same tokens). */
const query = (batch: number, i: number) => text(batch, i).slice(0, 2000)
const upsert = (url: string, batch: number) =>
  json(`${url}/v1/collections/disk/documents`, 'PUT', { documents: Array.from({ length: BATCH }, (_, i) => ({ id: `${batch}-${i}`, text: text(batch, i), metadata: { batch } })) })

t.test('a full disk fails writes with a JSON 5xx, keeps every acknowledged write and recovers when space returns', async (t) => {
  const mountPoint = await mkdtemp(path.join(os.tmpdir(), 'funnel-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' })
  } catch (error) {
    await rm(mountPoint, { recursive: true, force: true })
    t.skip(`cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): ${String((error as Error).message).split('\n')[0]}`, () => {})
    return
  }
  const servers: ServerProcess[] = []
  const modelsDir = await fixtureModelsDir()
  t.teardown(async () => {
    for (const s of servers) {
      s.child.kill('SIGKILL')
      await waitForExit(s.child)
    }
    execFileSync('umount', [mountPoint], { stdio: 'pipe' })
    await rm(mountPoint, { recursive: true, force: true })
    await rm(modelsDir, { recursive: true, force: true })
  })

  const dataDir = path.join(mountPoint, 'data')
  await mkdir(dataDir)
  const filler = path.join(mountPoint, 'filler.bin')
  await writeFile(filler, Buffer.alloc(256 * 1024, 1))
  const env = { FUNNEL_DATA_DIR: dataDir, FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: TEST_MODEL, FUNNEL_BUILD_DEFAULT_MODEL: 'false', FUNNEL_INDEX_SAVE_INTERVAL_MS: '20' }
  const server = await startServer(env)
  servers.push(server)
  t.equal((await json(`${server.url}/v1/collections`, 'POST', { name: 'disk', index: { dims: 8 } })).status, 201)

  const acked: number[] = []
  let failure: { status: number; body: Record<string, unknown> } | undefined
  for (let batch = 0; batch < 200 && failure === undefined; batch++) {
    const res = await upsert(server.url, batch)
    if (res.status === 200) acked.push(batch)
    else failure = res
  }
  t.ok(failure, `an upsert failed once the disk filled (${acked.length} batches acknowledged before)`)
  t.ok(acked.length > 0, 'some batches were acknowledged before the disk filled')
  t.ok(failure!.status >= 500 && failure!.status < 600, `the failure is a 5xx (${failure!.status})`)
  const error = failure!.body.error as { code?: unknown; message?: unknown } | undefined
  t.type(error?.code, 'string', 'error.code is a string')
  t.type(error?.message, 'string', 'error.message is a string')
  t.comment(`full-disk error: ${failure!.status} ${JSON.stringify(failure!.body)}`)
  t.equal(failure!.status, 507, 'reported as insufficient storage')
  t.equal(error?.code, 'insufficient_storage')
  t.match(String(error?.message), /disk is full/)
  // A batch of long documents commits in several transactions (write slices): the disk may fill after
  // the first of them, and the error then says how many documents, from the first, were written.
  const partial = /the first (\d+) of (\d+) documents were written/.exec(String(error?.message))
  const failedBatch = acked.length === 0 ? 0 : acked.at(-1)! + 1
  const partlyWritten = partial === null ? 0 : Number(partial[1])
  t.ok(partial === null ? /the write was not stored/.test(String(error?.message)) : Number(partial[2]) === BATCH && partlyWritten < BATCH, `the error says what was stored (${partlyWritten} of the failed batch)`)
  const failedBatchPresent = async (url: string) =>
    (await Promise.all(Array.from({ length: BATCH }, (_, i) => json(`${url}/v1/collections/disk/documents/${failedBatch}-${i}`, 'GET')))).map((r) => r.status === 200)
  t.same(await failedBatchPresent(server.url), Array.from({ length: BATCH }, (_, i) => i < partlyWritten), 'exactly the documents the error names as written are there')

  // Index saves keep failing in the background meanwhile; give them time to hit ENOSPC.
  await new Promise((r) => setTimeout(r, 300))
  t.equal(server.child.exitCode, null, 'the process is still alive')
  t.equal(server.child.signalCode, null, 'the process was not killed by a signal')
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, '/healthz answers')
  const saveFailures = server.logs.filter((l) => l.msg === 'index save failed')
  t.comment(`${saveFailures.length} background index saves failed while the disk was full: ${saveFailures.map((l) => (l.err as { message?: string }).message).join('; ')}`)

  const readAll = async (url: string) => {
    for (const batch of acked) {
      const found = await Promise.all(Array.from({ length: BATCH }, (_, i) => json(`${url}/v1/collections/disk/documents/${batch}-${i}`, 'GET')))
      t.ok(found.every((f) => f.status === 200 && f.body.text === text(batch, found.indexOf(f))), `acknowledged batch ${batch} is intact`)
    }
  }
  await readAll(server.url)

  // Free space: drop the filler and grow the filesystem. Writes work again.
  await rm(filler)
  execFileSync('mount', ['-o', 'remount,size=16m', mountPoint], { stdio: 'pipe' })
  for (let batch = 1000; batch < 1003; batch++) {
    const res = await upsert(server.url, batch)
    t.equal(res.status, 200, `upsert ${batch} succeeds once space is back`)
    if (res.status === 200) acked.push(batch)
  }
  await readAll(server.url)
  const last = acked.at(-1)!
  const hit = await json(`${server.url}/v1/collections/disk/search`, 'POST', { query: query(last, 2), top_k: 1, filter: { batch: last } })
  t.same((hit.body.results as { id: string }[]).map((r) => r.id), [`${last}-2`], 'new writes are searchable')

  // A clean restart on the same disk sees every acknowledged write and a usable index.
  server.child.kill('SIGTERM')
  t.equal(await waitForExit(server.child), 0, 'clean shutdown after the disk-full episode')
  const second = await startServer(env)
  servers.push(second)
  t.ok(second.logs.find((l) => l.msg === 'index ready'), 'the index was loaded or rebuilt at start')
  t.equal((await json(`${second.url}/v1/collections/disk`, 'GET')).body.count, acked.length * BATCH + partlyWritten, 'the count equals the acknowledged documents (and those of the failed batch its error named)')
  t.same(await failedBatchPresent(second.url), Array.from({ length: BATCH }, (_, i) => i < partlyWritten), 'after restart, the failed batch is as its error said')
  await readAll(second.url)
  for (const batch of [acked[0]!, acked.at(-1)!]) {
    const res = await json(`${second.url}/v1/collections/disk/search`, 'POST', { query: query(batch, 1), top_k: 1, filter: { batch } })
    t.same((res.body.results as { id: string }[]).map((r) => r.id), [`${batch}-1`], `batch ${batch} searchable after restart`)
  }
})
