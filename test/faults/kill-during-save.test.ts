import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { TEST_MODEL, fixtureModelsDir } from '../helpers/app.js'
import { startServer, waitForExit, type ServerProcess } from '../helpers/server-process.js'

const json = async (url: string, method: string, body?: unknown) => {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

const BATCH = 4
const ROUNDS = 3
const text = (batch: number, i: number) => `batch ${batch} item ${i} ${'lorem ipsum dolor '.repeat(1 + ((batch + i) % 4))}`

t.test('SIGKILL at random moments while the index is saved constantly loses no acknowledged write', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-killsave-'))
  const modelsDir = await fixtureModelsDir()
  let current: ServerProcess | undefined
  t.teardown(async () => {
    if (current !== undefined) {
      current.child.kill('SIGKILL')
      await waitForExit(current.child)
    }
    await Promise.all([rm(dataDir, { recursive: true, force: true }), rm(modelsDir, { recursive: true, force: true })])
  })
  const env = { FUNNEL_DATA_DIR: dataDir, FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: TEST_MODEL, FUNNEL_BUILD_DEFAULT_MODEL: 'false', FUNNEL_INDEX_SAVE_INTERVAL_MS: '1' }

  current = await startServer(env)
  t.equal((await json(`${current.url}/v1/collections`, 'POST', { name: 'stream', index: { dims: 8 } })).status, 201)

  const acked: number[] = []
  const sent: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const server = current
    let killed = false
    const writer = async (worker: number) => {
      for (let n = 0; !killed; n++) {
        const batch = round * 1_000_000 + worker * 100_000 + n
        sent.push(batch)
        const documents = Array.from({ length: BATCH }, (_, i) => ({ id: `${batch}-${i}`, text: text(batch, i), metadata: { batch } }))
        const res = await fetch(`${server.url}/v1/collections/stream/documents`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ documents }) }).catch(() => undefined)
        if (res?.status === 200) acked.push(batch)
        else if (res !== undefined && !killed) throw new Error(`upsert failed with ${res.status}`)
      }
    }
    const writers = [writer(1), writer(2)]
    // Kill at a random moment after a few writes, while saves run back to back.
    const delay = 150 + Math.floor(Math.random() * 600)
    const before = acked.length
    while (acked.length < before + 3) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, delay))
    killed = true
    server.child.kill('SIGKILL')
    await Promise.all(writers)
    await waitForExit(server.child)
    t.ok(acked.length > before, `round ${round}: killed after ${delay} ms, ${acked.length - before} batches acknowledged this round`)

    current = await startServer(env)
    t.equal(current.child.exitCode, null, `round ${round}: the server restarted`)
    const ready = current.logs.find((l) => l.msg === 'index ready')
    t.ok(ready, `round ${round}: the index was loaded (and replayed) or rebuilt at start`)
    t.comment(`round ${round}: ${JSON.stringify(ready)}`)
  }

  let present = 0
  for (const batch of sent) {
    const found = await Promise.all(Array.from({ length: BATCH }, (_, i) => json(`${current!.url}/v1/collections/stream/documents/${batch}-${i}`, 'GET')))
    const count = found.filter((f) => f.status === 200).length
    if (acked.includes(batch)) t.equal(count, BATCH, `acknowledged batch ${batch} is complete`)
    else t.ok(count === 0 || count === BATCH, `unacknowledged batch ${batch} is all-or-nothing (${count}/${BATCH})`)
    found.forEach((f, i) => f.status === 200 && t.equal(f.body.text, text(batch, i), 'text intact'))
    present += count
  }
  t.equal((await json(`${current.url}/v1/collections/stream`, 'GET')).body.count, present, 'the collection count equals the documents found')

  // Every acknowledged document is findable by a search filtered to its batch.
  for (const batch of acked) {
    const res = await json(`${current.url}/v1/collections/stream/search`, 'POST', { query: text(batch, 1), top_k: 1, filter: { batch } })
    t.same((res.body.results as { id: string }[]).map((r) => r.id), [`${batch}-1`], `batch ${batch} searchable`)
  }
  const last = acked.at(-1)!
  const unfiltered = await json(`${current.url}/v1/collections/stream/search`, 'POST', { query: text(last, 0), top_k: 3, oversample: 50 })
  t.ok((unfiltered.body.results as { id: string }[]).some((r) => r.id === `${last}-0`), 'the last acknowledged write is in the HNSW index')
})
