/**
 * Scale-out benchmark (issue 15): ingest docs/s and search QPS / p50 / p99 on one corpus, in one run,
 * for three deployments of the same Funnel checkout:
 *   1. the embedded backend, one Funnel;
 *   2. a 3-node Weaviate cluster (replication factor 3, QUORUM writes, 1 shard), one Funnel;
 *   3. the same cluster and collection, two Funnel replicas, requests sent round robin by the client.
 *
 *   npm run bench:weaviate -- [--dataset ../shared/datasets/scifact] [--docs 2000] [--modes lexical,dense,hybrid]
 *     [--connections 8] [--duration 15] [--model ID] [--md docs/benchmarks/weaviate-scale-out.md] [--out FILE]
 *
 * The load is closed-loop: `--connections` workers each send one search at a time, each to the next
 * replica in turn (one global counter), with query texts made unique so no query cache answers. The
 * Weaviate cluster is started here (scripts/cluster) in a temp folder and stopped at the end; the
 * Funnel servers are child processes of this checkout (bench/lib/server.ts). Everything shares this
 * machine's cores: the numbers compare deployments on one host, they do not show what more hosts give.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { WeaviateCluster } from '../../scripts/cluster/weaviate-cluster.js'
import { parseCommand } from '../lib/args.js'
import { corpusDocuments, queryTexts, type Document } from '../lib/datasets.js'
import { chooseModel } from '../lib/models.js'
import { repoRoot, resultPath, sharedDataset, writeResult } from '../lib/paths.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'
import { startServer, stopServer, type ServerProcess } from '../lib/server.js'
import { summarizeLatencies } from '../lib/stats.js'
import { residentBytes } from '../load/load-driver.js'

const USAGE = `usage: npm run bench:weaviate -- [--dataset DIR] [--docs 2000] [--modes lexical,dense,hybrid] [--connections 8]
       [--duration 15] [--model ID] [--md FILE] [--out FILE]
Embedded (1 Funnel) vs a 3-node Weaviate cluster with 1 and 2 Funnel replicas: ingest docs/s, then
search QPS, p50 and p99 per mode. Writes JSON to bench-results/ and a Markdown table to --md.`

const COLLECTION = 'scale-out'
const BATCH = 100

interface SearchRow {
  deployment: string
  mode: string
  requests: number
  errors: number
  qps: number
  p50_ms: number
  p99_ms: number
}

async function send(url: string, method: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`${method} ${url} failed with ${res.status}: ${await res.text()}`)
  return res.json()
}

/** Creates the collection through `url` and upserts the corpus in batches of 100; seconds taken by the upserts. */
async function ingest(url: string, model: string, docs: readonly Document[]): Promise<number> {
  await send(`${url}/v1/collections`, 'POST', { name: COLLECTION, model })
  const started = performance.now()
  for (let i = 0; i < docs.length; i += BATCH) await send(`${url}/v1/collections/${COLLECTION}/documents`, 'PUT', { documents: docs.slice(i, i + BATCH) })
  return (performance.now() - started) / 1000
}

let unique = 0

/** Closed-loop load: `connections` workers, each request to the next of `urls` in turn, for `seconds`. */
async function drive(urls: readonly string[], mode: string, queries: readonly string[], connections: number, seconds: number): Promise<{ latencies: number[]; errors: number; elapsed: number }> {
  const latencies: number[] = []
  let errors = 0
  let next = 0
  const started = performance.now()
  const deadline = started + seconds * 1000
  const worker = async () => {
    while (performance.now() < deadline) {
      const n = next++
      const url = urls[n % urls.length]!
      const body = JSON.stringify({ query: `${queries[n % queries.length]} ${unique++}`, top_k: 10, mode })
      const t0 = performance.now()
      try {
        const res = await fetch(`${url}/v1/collections/${COLLECTION}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        await res.arrayBuffer()
        if (res.ok) latencies.push(performance.now() - t0)
        else errors++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  return { latencies, errors, elapsed: (performance.now() - started) / 1000 }
}

async function searchRows(deployment: string, urls: readonly string[], modes: readonly string[], queries: readonly string[], connections: number, seconds: number): Promise<SearchRow[]> {
  const rows: SearchRow[] = []
  for (const mode of modes) {
    await drive(urls, mode, queries, connections, 3) // warm-up
    process.stderr.write(`bench: ${deployment}, ${mode}, c=${connections} for ${seconds}s\n`)
    const { latencies, errors, elapsed } = await drive(urls, mode, queries, connections, seconds)
    const summary = latencies.length > 0 ? summarizeLatencies(latencies) : undefined
    rows.push({
      deployment,
      mode,
      requests: latencies.length,
      errors,
      qps: Math.round((latencies.length / elapsed) * 10) / 10,
      p50_ms: summary?.p50 ?? Number.NaN,
      p99_ms: summary?.p99 ?? Number.NaN,
    })
  }
  return rows
}

/** The collection's document count as one server reports it (a check that every replica sees the corpus). */
async function documentCount(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/collections/${COLLECTION}`)
  return ((await res.json()) as { count: number }).count
}

const rssMiB = async (pids: readonly (number | null | undefined)[]): Promise<number[]> =>
  Promise.all(pids.map(async (pid) => (pid == null ? 0 : Math.round(((await residentBytes(pid)) ?? 0) / 1024 / 1024))))

async function main(): Promise<void> {
  const options = parseCommand(USAGE, {
    dataset: { type: 'string', default: sharedDataset('scifact') },
    docs: { type: 'string', default: '2000' },
    modes: { type: 'string', default: 'lexical,dense,hybrid' },
    connections: { type: 'string', default: '8' },
    duration: { type: 'string', default: '15' },
    model: { type: 'string' },
    md: { type: 'string', default: path.join(repoRoot, 'docs/benchmarks/weaviate-scale-out.md') },
    out: { type: 'string' },
  })
  const docsWanted = Number(options.docs)
  const connections = Number(options.connections)
  const seconds = Number(options.duration)
  const modes = options.modes.split(',').filter((m) => m !== '')
  const loadAtStart = loadAverage()
  const work = await mkdtemp(path.join(os.tmpdir(), 'funnel-bench-replicas-'))
  const { modelsDir, model } = await chooseModel(options.model, work)
  const docs = await corpusDocuments(options.dataset, docsWanted)
  const queries = await queryTexts(options.dataset)
  if (docs.length < docsWanted) throw new Error(`the dataset has ${docs.length} documents; --docs asks for ${docsWanted}`)
  const common = { FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: model, FUNNEL_BUILD_DEFAULT_MODEL: 'false', FUNNEL_RERANK_STAGES: '', LOG_LEVEL: 'warn' }

  const ingestRows: { deployment: string; seconds: number; docs_per_second: number }[] = []
  const rows: SearchRow[] = []
  const rss: Record<string, number[]> = {}
  const counts: Record<string, number> = {}
  const servers: ServerProcess[] = []
  let cluster: WeaviateCluster | undefined
  try {
    // 1. Embedded backend, one Funnel.
    const embedded = await startServer({ ...common, FUNNEL_DATA_DIR: path.join(work, 'embedded') })
    servers.push(embedded)
    let s = await ingest(embedded.url, model, docs)
    ingestRows.push({ deployment: 'embedded, 1 Funnel', seconds: Math.round(s * 10) / 10, docs_per_second: Math.round(docs.length / s) })
    counts['embedded Funnel'] = await documentCount(embedded.url)
    rows.push(...(await searchRows('embedded, 1 Funnel', [embedded.url], modes, queries, connections, seconds)))
    rss['embedded Funnel MiB'] = await rssMiB([embedded.child.pid])
    await stopServer(embedded)
    servers.length = 0

    // 2. Weaviate, one Funnel.
    const started = performance.now()
    cluster = await WeaviateCluster.start({ dir: path.join(work, 'cluster'), ownedByThisProcess: true, readyTimeoutMs: 300_000 })
    process.stderr.write(`bench: 3-node cluster ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
    const weaviateEnv = { ...common, FUNNEL_BACKEND: 'weaviate', FUNNEL_WEAVIATE_URLS: cluster.urls, FUNNEL_WEAVIATE_CONSISTENCY: 'QUORUM', FUNNEL_WEAVIATE_REPLICATION_FACTOR: '3', FUNNEL_WEAVIATE_SHARDS: '1', FUNNEL_DATA_DIR: path.join(work, 'unused') }
    const a = await startServer(weaviateEnv)
    servers.push(a)
    s = await ingest(a.url, model, docs)
    ingestRows.push({ deployment: 'Weaviate 3 nodes, 1 Funnel', seconds: Math.round(s * 10) / 10, docs_per_second: Math.round(docs.length / s) })
    rows.push(...(await searchRows('Weaviate 3 nodes, 1 Funnel', [a.url], modes, queries, connections, seconds)))

    // 3. Weaviate, two Funnel replicas, round robin.
    const b = await startServer(weaviateEnv)
    servers.push(b)
    counts['Weaviate replica A (wrote)'] = await documentCount(a.url)
    counts['Weaviate replica B'] = await documentCount(b.url)
    rows.push(...(await searchRows('Weaviate 3 nodes, 2 Funnel replicas (round robin)', [a.url, b.url], modes, queries, connections, seconds)))
    rss['Weaviate Funnel replicas MiB'] = await rssMiB([a.child.pid, b.child.pid])
    rss['Weaviate nodes MiB'] = await rssMiB(cluster.state.nodes.map((n) => n.pid))
  } finally {
    for (const server of servers) await stopServer(server).catch(() => {})
    if (cluster !== undefined) await cluster.stop().catch(() => {})
    await rm(work, { recursive: true, force: true })
  }

  const machine = { ...machineInfo(), loadavg_start: loadAtStart, loadavg_end: loadAverage(), platform: `${os.type()} ${os.release()}` }
  const result = { model, dataset: path.basename(options.dataset), docs: docs.length, connections, seconds, ingest: ingestRows, document_counts: counts, search: rows, rss_mib: rss, machine, date: new Date().toISOString() }
  const out = await writeResult(resultPath('bench-weaviate-replicas', options.out), result)
  const ingestTable = markdownTable(['deployment', 'ingest s', 'docs/s'], ingestRows.map((r) => [r.deployment, r.seconds, r.docs_per_second]))
  const searchTable = markdownTable(['deployment', 'mode', 'requests', 'errors', 'QPS', 'p50 ms', 'p99 ms'], rows.map((r) => [r.deployment, r.mode, r.requests, r.errors, r.qps, r.p50_ms, r.p99_ms]))
  const countLine = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')
  const rssLines = Object.entries(rss).map(([k, v]) => `- ${k}: ${v.join(', ')}`).join('\n')
  const md = `# Scale-out: embedded vs Weaviate with 1 and 2 Funnel replicas (issue 15)

\`\`\`
npm run bench:weaviate -- --docs ${docs.length} --connections ${connections} --duration ${seconds} --modes ${modes.join(',')}
\`\`\`

One run (${result.date}): the first ${docs.length} documents of ${result.dataset} (title + text), model \`${model}\`, no rerank
stage. Ingest: batches of ${BATCH} documents through one Funnel (Weaviate: replication factor 3, QUORUM, 1 shard,
each write waits until every node shows it). Search: top_k 10, ${connections} closed-loop connections for ${seconds} s per
row after a 3 s warm-up, query texts from queries.jsonl made unique; with 2 replicas the client sends each
request to the next replica in turn. Latencies are measured in the client (p50/p99 interpolated, bench/lib/stats.ts).

**Everything ran on one machine with ${machine.cpus} shared cores** (${machine.cpu}; load average ${machine.loadavg_start.join(' ')} at start,
${machine.loadavg_end.join(' ')} at end; node ${machine.node}): the three Weaviate nodes, the Funnel replicas and the client
compete for the same cores, so a second replica cannot add CPU here. These numbers compare the deployments'
costs on one host; they do not show what separate hosts would give.

## Ingest

${ingestTable}

Documents each server reported afterwards: ${countLine}.

## Search

${searchTable}

## Resident memory at the end of each phase

${rssLines}
`
  await writeFile(options.md, md)
  process.stdout.write(`${ingestTable}\ncounts: ${countLine}\n\n${searchTable}\n\n${rssLines}\nresult: ${out}\nmarkdown: ${options.md}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
