import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { documentText, loadQueries, readCorpus } from './beir.js'

const USAGE = `usage: npm run bench:load -- [--dataset ../shared/datasets/scifact] [--docs 2000] [--concurrency 1,8,32]
       [--duration 10] [--mixed-duration 30] [--mixed-connections 8] [--upsert-share 0.2] [--model ID]
       [--log-level info] [--repeat-queries] [--out FILE]

Starts the server as a child process on 127.0.0.1 (the offline default model when models/ holds it,
else the tiny fixture embedder), preloads --docs documents, then drives it with autocannon:
/v1/embeddings and /search at each concurrency, and a mixed run of upserts of new documents and
searches while sampling the server's RSS every second. The server runs with its default settings
(logging at info, load shedding on). Prints a table; writes JSON to bench-results/.
`

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const DEFAULT_MODEL = 'funnel/glove-6b-100d-static'
const FIXTURE_MODEL = 'test/tiny-bert-mean'
const COLLECTION = 'bench-load'

/** The slice of autocannon's API used here (the package ships no types). */
interface AutocannonRequest {
  method?: string
  path?: string
  headers?: Record<string, string>
  body?: string
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest
}
interface Histogram {
  average: number
  p50: number
  p99: number
  max: number
  total?: number
}
interface AutocannonResult {
  duration: number
  latency: Histogram
  requests: Histogram
  errors: number
  timeouts: number
  non2xx: number
  statusCodeStats: Record<string, { count: number }>
}
type Autocannon = (options: {
  url: string
  connections: number
  duration: number
  timeout?: number
  requests: AutocannonRequest[]
}) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

interface RunRow {
  run: string
  connections: number
  seconds: number
  requests: number
  rps: number
  p50_ms: number
  p99_ms: number
  max_ms: number
  non2xx: number
  server_errors: number
  errors: number
  status_codes: Record<string, number>
}

interface ServerProcess {
  child: ChildProcess
  url: string
}

/** A loopback port free right now (the server binds it a moment later). */
async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** Starts `src/server.ts` on 127.0.0.1 and waits for /readyz. Its log is drained, not parsed. */
async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/server.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.resume()
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${stderr}`)
    const res = await fetch(`${url}/readyz`).catch(() => undefined)
    if (res?.status === 200) return { child, url }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`server never became ready: ${stderr}`)
}

async function stopServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGTERM')
  await exited
}

/** Resident set size of a process in bytes, from /proc (Linux); undefined elsewhere. */
async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined)
  const match = status === undefined ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return match ? Number(match[1]) * 1024 : undefined
}

/** The models directory and model id: the offline default when built, else the fixture embedder. */
async function chooseModel(requested: string | undefined, work: string): Promise<{ modelsDir: string; model: string }> {
  const modelsDir = path.join(repoRoot, 'models')
  const wanted = requested ?? DEFAULT_MODEL
  if (existsSync(path.join(modelsDir, wanted, 'model.onnx')) || existsSync(path.join(modelsDir, wanted, 'onnx/model.onnx'))) return { modelsDir, model: wanted }
  if (requested !== undefined) throw new Error(`model '${requested}' not found under ${modelsDir}`)
  const fixtureDir = path.join(work, 'models', FIXTURE_MODEL)
  await cp(path.join(repoRoot, 'test/fixtures/models/tiny-bert-mean'), fixtureDir, { recursive: true })
  const tokenizerDir = path.join(process.env.FUNNEL_SHARED_DIR ?? path.join(repoRoot, '../shared'), 'tokenizers/bert-base-uncased')
  for (const file of await readdir(tokenizerDir)) if (file.endsWith('.json') || file === 'vocab.txt') await cp(path.join(tokenizerDir, file), path.join(fixtureDir, file))
  return { modelsDir: path.join(work, 'models'), model: FIXTURE_MODEL }
}

async function send(url: string, method: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`${method} ${url} failed with ${res.status}: ${await res.text()}`)
  return res.json()
}

/** Creates the collection and upserts `docs` in batches; returns the documents kept back for the mixed run. */
async function preload(url: string, model: string, corpus: { id: string; text: string }[], docs: number): Promise<{ seconds: number }> {
  await send(`${url}/v1/collections`, 'POST', { name: COLLECTION, model })
  const started = performance.now()
  for (let i = 0; i < docs; i += 100) await send(`${url}/v1/collections/${COLLECTION}/documents`, 'PUT', { documents: corpus.slice(i, Math.min(i + 100, docs)) })
  return { seconds: (performance.now() - started) / 1000 }
}

/** A request whose body is rebuilt before each send from the next item of `items`. */
function rotating(method: string, route: string, items: readonly string[], body: (item: string, n: number) => unknown): AutocannonRequest {
  let n = 0
  return {
    method,
    path: route,
    headers: { 'content-type': 'application/json' },
    setupRequest: (request) => ({ ...request, body: JSON.stringify(body(items[n % items.length]!, n++)) }),
  }
}

async function measure(url: string, run: string, connections: number, duration: number, requests: AutocannonRequest[]): Promise<RunRow> {
  process.stderr.write(`bench: ${run} c=${connections} for ${duration}s\n`)
  const result = await autocannon({ url, connections, duration, timeout: 30, requests })
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]))
  const total = Object.values(statusCodes).reduce((a, b) => a + b, 0)
  return {
    run,
    connections,
    seconds: result.duration,
    requests: total,
    rps: Math.round((total / result.duration) * 10) / 10,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    non2xx: result.non2xx,
    server_errors: Object.entries(statusCodes).filter(([code]) => code.startsWith('5')).reduce((a, [, n]) => a + n, 0),
    errors: result.errors,
    status_codes: statusCodes,
  }
}

/** Samples the server's RSS every second while `work` runs. */
async function withRssSampling<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; rss: { start: number; end: number; max: number; samples: number[] } }> {
  const samples: number[] = []
  const sample = async () => {
    const bytes = await residentBytes(pid)
    if (bytes !== undefined) samples.push(bytes)
  }
  await sample()
  const timer = setInterval(() => void sample(), 1000)
  try {
    const result = await work()
    return { result, rss: { start: samples[0] ?? 0, end: samples.at(-1) ?? 0, max: Math.max(0, ...samples), samples } }
  } finally {
    clearInterval(timer)
    await sample()
  }
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10

function table(rows: RunRow[]): string {
  const header = '| run | connections | requests | req/s | p50 ms | p99 ms | max ms | non-2xx | 5xx | socket errors |\n|---|---|---|---|---|---|---|---|---|---|\n'
  return header + rows.map((r) => `| ${r.run} | ${r.connections} | ${r.requests} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.non2xx} | ${r.server_errors} | ${r.errors} |`).join('\n')
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string', default: path.join(repoRoot, '../shared/datasets/scifact') },
      docs: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '1,8,32' },
      duration: { type: 'string', default: '10' },
      'mixed-duration': { type: 'string', default: '30' },
      'mixed-connections': { type: 'string', default: '8' },
      'upsert-share': { type: 'string', default: '0.2' },
      model: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'repeat-queries': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  return {
    ...values,
    docs: Number(values.docs),
    concurrency: values.concurrency.split(',').map(Number),
    duration: Number(values.duration),
    mixedDuration: Number(values['mixed-duration']),
    mixedConnections: Number(values['mixed-connections']),
    upsertShare: Number(values['upsert-share']),
  }
}
type Options = ReturnType<typeof parseOptions>

/** The autocannon runs: embeddings and search at each concurrency, then the mixed run with RSS sampling. */
async function runLoad(server: ServerProcess, options: Options, corpus: { id: string; text: string }[], queries: string[]) {
  // Each request's text is made unique (a counter appended) so a query cache, if any, never answers:
  // the runs measure the model and the index. --repeat-queries cycles the plain query texts instead.
  const unique = (query: string, n: number) => (options['repeat-queries'] ? query : `${query} ${n}`)
  const search = rotating('POST', `/v1/collections/${COLLECTION}/search`, queries, (query, n) => ({ query: unique(query, n), top_k: 10 }))
  const embed = rotating('POST', '/v1/embeddings', queries, (input, n) => ({ input: unique(input, n) }))

  await measure(server.url, 'warm-up', 4, 2, [search, embed])
  const rows: RunRow[] = []
  for (const c of options.concurrency) rows.push(await measure(server.url, 'POST /v1/embeddings', c, options.duration, [embed]))
  for (const c of options.concurrency) rows.push(await measure(server.url, 'POST /v1/collections/{name}/search', c, options.duration, [search]))

  // Each connection cycles through one upsert of a document not yet indexed and (1/share - 1) searches.
  const fresh = corpus.slice(options.docs).map((d) => d.text)
  const upsert = rotating('PUT', `/v1/collections/${COLLECTION}/documents`, fresh.length > 0 ? fresh : queries, (text, n) => ({ documents: [{ id: `load-${n}`, text }] }))
  const searchesPerUpsert = Math.max(1, Math.round(1 / options.upsertShare) - 1)
  const share = Math.round(100 / (searchesPerUpsert + 1))
  const mixed = await withRssSampling(server.child.pid!, () =>
    measure(server.url, `mixed: ${share}% upserts, ${100 - share}% searches`, options.mixedConnections, options.mixedDuration, [upsert, ...Array.from({ length: searchesPerUpsert }, () => search)]),
  )
  rows.push(mixed.result)
  return { rows, rss: mixed.rss }
}

async function main(): Promise<void> {
  const options = parseOptions()
  if (options.help) return void process.stdout.write(USAGE)
  const loadAtStart = os.loadavg()
  const work = await mkdtemp(path.join(os.tmpdir(), 'funnel-bench-load-'))
  const { modelsDir, model } = await chooseModel(options.model, work)
  const corpus: { id: string; text: string }[] = []
  for await (const doc of readCorpus(options.dataset)) corpus.push({ id: doc.id, text: documentText(doc) })
  const queries = [...(await loadQueries(options.dataset)).values()].map((q) => q.text)
  if (corpus.length < options.docs) throw new Error(`the dataset has ${corpus.length} documents; --docs asks for ${options.docs}`)

  const server = await startServer({ FUNNEL_DATA_DIR: path.join(work, 'data'), FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: model, FUNNEL_BUILD_DEFAULT_MODEL: 'false', LOG_LEVEL: options['log-level'] })
  try {
    const rssAtStart = (await residentBytes(server.child.pid!)) ?? 0
    const ingest = await preload(server.url, model, corpus, options.docs)
    process.stderr.write(`bench: preloaded ${options.docs} documents in ${ingest.seconds.toFixed(1)} s\n`)
    const { rows, rss } = await runLoad(server, options, corpus, queries)
    const count = ((await (await fetch(`${server.url}/v1/collections/${COLLECTION}`)).json()) as { count: number }).count
    const round2 = (xs: number[]) => xs.map((l) => Math.round(l * 100) / 100)
    const result = {
      model,
      dataset: path.basename(options.dataset),
      unique_queries: !options['repeat-queries'],
      log_level: options['log-level'],
      preloaded_documents: options.docs,
      documents_after: count,
      preload: { seconds: Math.round(ingest.seconds * 10) / 10, docs_per_second: Math.round(options.docs / ingest.seconds) },
      rows,
      rss_bytes: { at_start: rssAtStart, mixed_start: rss.start, mixed_end: rss.end, mixed_max: rss.max, mixed_samples: rss.samples },
      machine: { nproc: os.availableParallelism(), cpu: os.cpus()[0]?.model, loadavg_start: round2(loadAtStart), loadavg_end: round2(os.loadavg()), node: process.version, platform: `${os.type()} ${os.release()}` },
      date: new Date().toISOString(),
    }
    const out = options.out ?? path.join(repoRoot, 'bench-results', `bench-load-${Date.now()}.json`)
    await mkdir(path.dirname(out), { recursive: true })
    await writeFile(out, JSON.stringify(result, null, 2) + '\n')
    process.stdout.write(
      `model ${model}; ${options.docs} ${result.dataset} documents preloaded at ${result.preload.docs_per_second} docs/s; ${count} after the mixed run\n\n` +
        table(rows) +
        `\n\nserver RSS: ${mb(rssAtStart)} MiB at start; mixed run ${mb(rss.start)} MiB -> ${mb(rss.end)} MiB, max ${mb(rss.max)} MiB\n` +
        `machine: ${result.machine.nproc} CPUs (${result.machine.cpu}), load average ${result.machine.loadavg_start.join(' ')} at start, ${result.machine.loadavg_end.join(' ')} at end; node ${process.version}\n` +
        `result: ${path.relative(process.cwd(), out)}\n`,
    )
  } finally {
    await stopServer(server)
    await rm(work, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
