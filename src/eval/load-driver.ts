/**
 * What the HTTP load benchmarks share: a Funnel server as a child process, autocannon runs and their
 * result rows, collection preloading, and RSS sampling.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, readFile, readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const DEFAULT_MODEL = 'funnel/glove-6b-100d-static'
const FIXTURE_MODEL = 'test/tiny-bert-mean'

/** The slice of autocannon's API used here (the package ships no types). */
export interface AutocannonRequest {
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

export interface RunRow {
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

export interface ServerProcess {
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

/**
 * Starts `src/server.ts` (of this checkout, or of another one at `root`, e.g. a git worktree of an
 * older commit) on 127.0.0.1 and waits for /readyz. Its log is drained, not parsed.
 */
export async function startServer(env: Record<string, string>, nodeArgs: readonly string[] = [], root = repoRoot): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(root, 'src/server.ts')], {
    cwd: root,
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

export async function stopServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGTERM')
  await exited
}

/** Resident set size of a process in bytes, from /proc (Linux); undefined elsewhere. */
export async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined)
  const match = status === undefined ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return match ? Number(match[1]) * 1024 : undefined
}

/** The models directory and model id: the offline default when built, else the fixture embedder. */
export async function chooseModel(requested: string | undefined, work: string): Promise<{ modelsDir: string; model: string }> {
  const modelsDir = path.join(repoRoot, 'models')
  const wanted = requested ?? DEFAULT_MODEL
  if (existsSync(path.join(modelsDir, wanted, 'model.onnx')) || existsSync(path.join(modelsDir, wanted, 'onnx/model.onnx'))) return { modelsDir, model: wanted }
  if (requested !== undefined) throw new Error(`model '${requested}' not found under ${modelsDir}`)
  const fixtureDir = path.join(work, 'models', FIXTURE_MODEL)
  await cp(path.join(repoRoot, 'test/fixtures/models/tiny-bert-mean'), fixtureDir, { recursive: true })
  const tokenizerDir = path.join(repoRoot, 'test/fixtures/tokenizers/bert-base-uncased')
  for (const file of await readdir(tokenizerDir)) if (file.endsWith('.json') || file === 'vocab.txt') await cp(path.join(tokenizerDir, file), path.join(fixtureDir, file))
  return { modelsDir: path.join(work, 'models'), model: FIXTURE_MODEL }
}

export async function send(url: string, method: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`${method} ${url} failed with ${res.status}: ${await res.text()}`)
  return res.json()
}

/** Creates the collection and upserts `docs` in batches; returns the documents kept back for the mixed run. */
export async function preload(url: string, collection: string, model: string, corpus: { id: string; text: string }[], docs: number): Promise<{ seconds: number }> {
  await send(`${url}/v1/collections`, 'POST', { name: collection, model })
  const started = performance.now()
  for (let i = 0; i < docs; i += 100) await send(`${url}/v1/collections/${collection}/documents`, 'PUT', { documents: corpus.slice(i, Math.min(i + 100, docs)) })
  return { seconds: (performance.now() - started) / 1000 }
}

/** A request whose body is rebuilt before each send from the next item of `items`. */
let uniqueCounter = 0

/**
 * `text` made unique for this whole process (a counter appended): every run, warm-up and round gets
 * texts never sent before, so a query cache cannot answer any of them.
 */
export const uniqueText = (text: string): string => `${text} ${uniqueCounter++}`

export function rotating(method: string, route: string, items: readonly string[], body: (item: string, n: number) => unknown): AutocannonRequest {
  let n = 0
  return {
    method,
    path: route,
    headers: { 'content-type': 'application/json' },
    setupRequest: (request) => ({ ...request, body: JSON.stringify(body(items[n % items.length]!, n++)) }),
  }
}

export async function measure(url: string, run: string, connections: number, duration: number, requests: AutocannonRequest[]): Promise<RunRow> {
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
export async function withRssSampling<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; rss: { start: number; end: number; max: number; samples: number[] } }> {
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

export const mb = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10

export function table(rows: RunRow[]): string {
  const header = '| run | connections | requests | req/s | p50 ms | p99 ms | max ms | non-2xx | 5xx | socket errors |\n|---|---|---|---|---|---|---|---|---|---|\n'
  return header + rows.map((r) => `| ${r.run} | ${r.connections} | ${r.requests} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.non2xx} | ${r.server_errors} | ${r.errors} |`).join('\n')
}
