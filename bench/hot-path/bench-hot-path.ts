import { cp, rm } from 'node:fs/promises'
import path from 'node:path'
import { numberList, parseCommand } from '../lib/args.js'
import { resultPath, sharedDataset, writeResult } from '../lib/paths.js'
import { loadAverage, machineInfo } from '../lib/report.js'
import { startServer, stopServer, type ServerProcess } from '../lib/server.js'
import { lowerMedian } from '../lib/stats.js'
import { measure, rotating, uniqueText, type AutocannonRequest, type RunRow } from '../load/load-driver.js'
import { VARIANTS, checkVariants, describeVariants, prepareVariants } from './variants.js'

const USAGE = `usage: npm run bench:hot-path -- [--model sentence-transformers/all-MiniLM-L6-v2] [--dataset DIR]
       [--docs 500] [--concurrency 1,8,32] [--duration 10] [--rounds 2] [--variants a,b,...] [--cache-pool 50]

Side by side, in one run: one Funnel server per variant of the embedding hot path (all started at
once, on copies of one preloaded collection), driven in turn by autocannon against /v1/embeddings
and /search at each concurrency. Every request carries a unique query (a counter appended), so no
cache answers; the order of variants rotates each round and the table reports the median round.
Then the query cache: searches cycling through --cache-pool distinct queries, cache on and off.

Variants:
${describeVariants()}
`

const COLLECTION = 'bench-hot-path'

function parseOptions() {
  const values = parseCommand(USAGE, {
    model: { type: 'string', default: 'sentence-transformers/all-MiniLM-L6-v2' },
    dataset: { type: 'string', default: sharedDataset('scifact') },
    docs: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '1,8,32' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    variants: { type: 'string', default: 'session-1,spinning-off,micro-batch,micro-batch+cuts' },
    'cache-pool': { type: 'string', default: '50' },
    out: { type: 'string' },
  })
  const variants = checkVariants(values.variants)
  return {
    ...values,
    docs: Number(values.docs),
    concurrency: numberList('concurrency', values.concurrency),
    duration: Number(values.duration),
    rounds: Number(values.rounds),
    variants,
    cachePool: Number(values['cache-pool']),
  }
}

/** The median round of one (run, concurrency, variant) cell, by requests per second (the lower one of an even count). */
function medianRow(rows: RunRow[]): RunRow {
  const rps = lowerMedian(rows.map((r) => r.rps))
  return rows.find((r) => r.rps === rps)!
}

async function startVariants(names: string[], base: Record<string, string>, dataDir: string, work: string): Promise<Map<string, ServerProcess>> {
  const servers = new Map<string, ServerProcess>()
  for (const name of names) {
    const data = path.join(work, `data-${name}`)
    await cp(dataDir, data, { recursive: true })
    servers.set(name, await startServer({ ...base, ...VARIANTS[name]!.env, FUNNEL_DATA_DIR: data }))
  }
  return servers
}

async function main(): Promise<void> {
  const options = parseOptions()
  const loadAtStart = loadAverage()
  const { work, model, queries, base, seedDir, preloadSeconds } = await prepareVariants({ ...options, collection: COLLECTION, workPrefix: 'funnel-bench-hot-path-' })
  process.stderr.write(`bench: preloaded ${options.docs} documents in ${preloadSeconds.toFixed(1)} s\n`)

  const names = [...new Set([...options.variants, 'default'])]
  const servers = await startVariants(names, base, seedDir, work)
  try {
    const endpoints: [string, () => AutocannonRequest][] = [
      ['POST /v1/embeddings', () => rotating('POST', '/v1/embeddings', queries, (q) => ({ input: uniqueText(q), input_type: 'query' }))],
      ['POST /search', () => rotating('POST', `/v1/collections/${COLLECTION}/search`, queries, (q) => ({ query: uniqueText(q), top_k: 10 }))],
    ]
    for (const server of servers.values()) await measure(server.url, 'warm-up', 4, 2, [endpoints[0]![1](), endpoints[1]![1]()])
    const cells = new Map<string, RunRow[]>()
    for (let round = 0; round < options.rounds; round++) {
      for (const [run, request] of endpoints) {
        for (const c of options.concurrency) {
          const order = options.variants.map((_, i) => options.variants[(i + round) % options.variants.length]!)
          for (const variant of order) {
            const row = await measure(servers.get(variant)!.url, `${run} [${variant}] round ${round + 1}`, c, options.duration, [request()])
            const key = `${run}\u0000${c}\u0000${variant}`
            cells.set(key, [...(cells.get(key) ?? []), row])
          }
        }
      }
    }
    // The query cache: the same few queries again and again (a dashboard, pagination, retries).
    const pool = queries.slice(0, options.cachePool)
    const cacheRows: { variant: string; row: RunRow }[] = []
    for (const variant of ['micro-batch+cuts', 'default']) {
      const server = servers.get(variant) ?? (await startVariants([variant], base, seedDir, work)).get(variant)!
      servers.set(variant, server)
      const search = rotating('POST', `/v1/collections/${COLLECTION}/search`, pool, (q) => ({ query: q, top_k: 10 }))
      cacheRows.push({ variant, row: await measure(server.url, `search, ${pool.length} repeated queries [${variant}]`, 8, options.duration, [search]) })
    }
    await report(options, model, preloadSeconds, cells, cacheRows, loadAtStart)
  } finally {
    await Promise.all([...servers.values()].map(stopServer))
    await rm(work, { recursive: true, force: true })
  }
}

async function report(options: ReturnType<typeof parseOptions>, model: string, ingestSeconds: number, cells: Map<string, RunRow[]>, cacheRows: { variant: string; row: RunRow }[], loadAtStart: number[]): Promise<void> {
  const lines = ['| endpoint | connections | variant | req/s (median) | rounds | p50 ms | p99 ms | vs session-1 |', '|---|---|---|---|---|---|---|---|']
  const summary: Record<string, unknown>[] = []
  for (const [key, rows] of cells) {
    const [run, c, variant] = key.split('\u0000') as [string, string, string]
    const row = medianRow(rows)
    const baseline = cells.get(`${run}\u0000${c}\u0000session-1`)
    const gain = baseline === undefined ? '' : `${((row.rps / medianRow(baseline).rps - 1) * 100).toFixed(0)}%`
    lines.push(`| ${run} | ${c} | ${variant} | ${row.rps} | ${rows.map((r) => r.rps).join(' / ')} | ${row.p50_ms} | ${row.p99_ms} | ${gain} |`)
    summary.push({ run, connections: Number(c), variant, median: row, rounds: rows })
  }
  lines.push('', '| query cache (8 connections) | req/s | p50 ms | p99 ms |', '|---|---|---|---|')
  for (const { variant, row } of cacheRows) lines.push(`| ${variant} | ${row.rps} | ${row.p50_ms} | ${row.p99_ms} |`)
  const machine = { ...machineInfo(), loadavg_start: loadAtStart, loadavg_end: loadAverage() }
  const out = await writeResult(resultPath('bench-hot-path', options.out), { model, options, variants: VARIANTS, ingest_seconds: ingestSeconds, cells: summary, cache: cacheRows, machine, date: new Date().toISOString() })
  process.stdout.write(
    `model ${model}; ${options.docs} documents; ${options.rounds} rounds of ${options.duration} s per cell, variants rotating\n\n` +
      lines.join('\n') +
      `\n\nmachine: ${machine.cpus} CPUs (${machine.cpu}), load average ${machine.loadavg_start.join(' ')} at start, ${machine.loadavg_end.join(' ')} at end; node ${process.version}\nresult: ${out}\n`,
  )
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
