/**
 * Lifecycle soak: a real server under drop/re-create, upserts, deletes and searches for a bounded time,
 * then checks that every acknowledged write is present (and every acknowledged delete absent), that
 * document and vector counts agree, and that a restart is clean. Not part of `npm test`.
 *
 *   npm run soak -- --minutes 10
 */
import Database from 'better-sqlite3'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fixtureModelsDir, TEST_MODEL } from '../../test/helpers/app.js'
import { parseCommand } from '../lib/args.js'
import { startServer, stopServer } from '../lib/server.js'
import { SoakLedger } from './ledger.js'
import { ServerWatch } from './server-watch.js'

const USAGE = `usage: npm run soak -- [--minutes 10]

Drives a real server (the fixture embedder) with drops, re-creates, upserts, deletes and searches for
--minutes, then checks every acknowledged write and delete, the counts, and a clean restart; exits 1
on any problem.
`

const COLLECTIONS = ['s0', 's1', 's2']
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!

async function call(url: string, method: string, body?: unknown): Promise<Response> {
  return fetch(url, { method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) })
}

/** Runs `step` back to back until `until`, counting every answer in the ledger. */
async function worker(until: number, step: () => Promise<void>): Promise<void> {
  while (Date.now() < until) await step()
}

function workload(base: string, ledger: SoakLedger) {
  let nextId = 0
  const create = async (name: string) => {
    const res = await call(`${base}/v1/collections`, 'POST', { name, lexical: { stemming: pick(['porter', 'none']) } })
    ledger.count('create', res.status, await res.text())
  }
  return {
    async lifecycle() {
      const name = pick(COLLECTIONS)
      ledger.dropSent(name)
      const res = await call(`${base}/v1/collections/${name}`, 'DELETE')
      ledger.count('drop', res.status, await res.text())
      await create(name)
      ledger.dropDone(name)
      await new Promise((r) => setTimeout(r, 2000 + Math.random() * 2000))
    },
    async upsert() {
      const name = pick(COLLECTIONS)
      const docs = Array.from({ length: 10 + Math.floor(Math.random() * 40) }, () => {
        const id = `d${nextId++}`
        return { id, text: `soak document ${id} about ${pick(['solar', 'wind', 'rain', 'running', 'engines', 'rivers'])} and ${pick(['cats', 'code', 'boot', 'maps'])}` }
      })
      const sent = ledger.mark(name)
      const res = await call(`${base}/v1/collections/${name}/documents`, 'PUT', { documents: docs })
      ledger.count('upsert', res.status, await res.text())
      if (res.status === 200) ledger.upserted(name, sent, docs.map((d) => d.id))
    },
    async remove() {
      const target = ledger.deletable()
      if (target === undefined) return void (await new Promise((r) => setTimeout(r, 50)))
      const sent = ledger.mark(target.collection)
      const res = await call(`${base}/v1/collections/${target.collection}/documents/${target.id}`, 'DELETE')
      ledger.count('delete', res.status, await res.text())
      if (res.status === 200) ledger.deleted(target.collection, sent, target.id)
    },
    async search() {
      const name = pick(COLLECTIONS)
      const res = await call(`${base}/v1/collections/${name}/search`, 'POST', { query: pick(['solar cats', 'running engines', 'rain maps', 'boot code']), top_k: 10, mode: pick(['dense', 'lexical', 'hybrid']) })
      ledger.count('search', res.status, await res.text())
    },
  }
}

/** Ids stored per collection, read from SQLite after the server has stopped. */
function storedIds(dataDir: string): Map<string, Set<string>> {
  const db = new Database(path.join(dataDir, 'funnel.db'), { readonly: true })
  const rows = db.prepare('SELECT collection, id FROM documents').all() as { collection: string; id: string }[]
  db.close()
  const byCollection = new Map<string, Set<string>>()
  for (const row of rows) {
    if (!byCollection.has(row.collection)) byCollection.set(row.collection, new Set())
    byCollection.get(row.collection)!.add(row.id)
  }
  return byCollection
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, { minutes: { type: 'string', default: '10' } })
  const minutes = Number(values.minutes)
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-soak-'))
  const modelsDir = await fixtureModelsDir()
  const env = { FUNNEL_DATA_DIR: dataDir, FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: TEST_MODEL, FUNNEL_BUILD_DEFAULT_MODEL: 'false', FUNNEL_INDEX_SAVE_INTERVAL_MS: '500' }
  const server = await startServer(env)
  const ledger = new SoakLedger()
  const watch = new ServerWatch(server.url, server.child.pid!)
  const load = workload(server.url, ledger)
  for (const name of COLLECTIONS) await call(`${server.url}/v1/collections`, 'POST', { name })
  await watch.start()
  const until = Date.now() + minutes * 60_000
  console.log(`soak: ${minutes} min against ${server.url} (data ${dataDir})`)
  await Promise.all([worker(until, load.lifecycle), worker(until, load.upsert), worker(until, load.upsert), worker(until, load.remove), worker(until, load.search), worker(until, load.search)])
  const running = await watch.stop()
  await stopServer(server)

  const problems = ledger.verify(storedIds(dataDir))
  const restarted = await startServer(env, { collectLogs: true })
  const after = await new ServerWatch(restarted.url, restarted.child.pid!).countsAgree()
  const repairs = restarted.logs.filter((l) => /disagrees|failed to open|rebuilt/.test(String(l.msg)))
  await stopServer(restarted)
  await rm(dataDir, { recursive: true, force: true })
  await rm(modelsDir, { recursive: true, force: true })

  console.log(JSON.stringify({ minutes, ...ledger.summary(), ...running, countsAgreeBeforeRestart: running.countsAgree, countsAgreeAfterRestart: after, restartRepairs: repairs.length, problems: problems.slice(0, 20), problemCount: problems.length }, null, 2))
  if (problems.length > 0 || !running.countsAgree || !after || repairs.length > 0 || ledger.serverErrors() > 0) process.exitCode = 1
}

await main()
