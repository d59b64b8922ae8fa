import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { TEST_MODEL, fixtureModelsDir } from '../helpers/app.js'
import { startServer, waitForExit } from '../helpers/server-process.js'

const json = async (url: string, method: string, body?: unknown) => {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

t.test('SIGKILL during a stream of upserts loses no acknowledged write and exposes no half batch', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-kill-'))
  const modelsDir = await fixtureModelsDir()
  t.teardown(() => Promise.all([rm(dataDir, { recursive: true, force: true }), rm(modelsDir, { recursive: true, force: true })]))
  const env = { FUNNEL_DATA_DIR: dataDir, FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: TEST_MODEL, FUNNEL_BUILD_DEFAULT_MODEL: 'false', FUNNEL_INDEX_SAVE_INTERVAL_MS: '150' }

  const first = await startServer(env)
  t.equal((await json(`${first.url}/v1/collections`, 'POST', { name: 'stream', index: { dims: 8 } })).status, 201)

  const BATCH = 5
  const acked: number[] = []
  const sent: number[] = []
  let killed = false
  const text = (batch: number, i: number) => `batch ${batch} item ${i} ${'lorem ipsum dolor '.repeat(1 + ((batch + i) % 4))}`
  const writer = async (worker: number) => {
    for (let n = 0; !killed; n++) {
      const batch = worker * 100_000 + n
      sent.push(batch)
      const documents = Array.from({ length: BATCH }, (_, i) => ({ id: `${batch}-${i}`, text: text(batch, i), metadata: { batch } }))
      const res = await fetch(`${first.url}/v1/collections/stream/documents`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ documents }) }).catch(() => undefined)
      if (res?.status === 200) acked.push(batch)
      else if (res !== undefined && !killed) throw new Error(`upsert failed with ${res.status}`)
    }
  }
  const writers = [writer(1), writer(2), writer(3)]
  while (acked.length < 40) await new Promise((r) => setTimeout(r, 20))
  killed = true
  first.child.kill('SIGKILL')
  await Promise.all(writers)
  await waitForExit(first.child)
  t.ok(acked.length >= 40, `${acked.length} batches acknowledged before the kill; ${sent.length - acked.length} in flight`)

  const second = await startServer(env)
  t.teardown(async () => {
    second.child.kill('SIGTERM')
    await waitForExit(second.child)
  })
  const ready = second.logs.find((l) => l.msg === 'index ready')
  t.ok(ready, 'the index was loaded (and replayed) or rebuilt at start')

  const info = (await json(`${second.url}/v1/collections/stream`, 'GET')).body
  let present = 0
  for (const batch of sent) {
    const found = await Promise.all(Array.from({ length: BATCH }, (_, i) => json(`${second.url}/v1/collections/stream/documents/${batch}-${i}`, 'GET')))
    const count = found.filter((f) => f.status === 200).length
    if (acked.includes(batch)) t.equal(count, BATCH, `acknowledged batch ${batch} is complete`)
    else t.ok(count === 0 || count === BATCH, `unacknowledged batch ${batch} is all-or-nothing (${count}/${BATCH})`)
    found.filter((f) => f.status === 200).forEach((f, i) => t.equal(f.body.text, text(batch, i), 'text intact'))
    present += count
  }
  t.equal(info.count, present, 'the collection count equals the documents found')

  // Every acknowledged document is searchable: its own text finds it (filtered to its batch to stay exact).
  for (const batch of acked.slice(-8)) {
    const res = await json(`${second.url}/v1/collections/stream/search`, 'POST', { query: text(batch, 2), top_k: 1, filter: { batch } })
    t.same((res.body.results as { id: string }[]).map((r) => r.id), [`${batch}-2`], `batch ${batch} searchable`)
  }
  const unfiltered = await json(`${second.url}/v1/collections/stream/search`, 'POST', { query: text(acked.at(-1)!, 0), top_k: 3, oversample: 50 })
  t.ok((unfiltered.body.results as { id: string }[]).some((r) => r.id === `${acked.at(-1)}-0`), 'the last acknowledged write is in the HNSW index')
})
