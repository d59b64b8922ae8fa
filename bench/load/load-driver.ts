/**
 * What the autocannon benches share (bench-load, bench-hot-path, profile-search): autocannon runs and
 * their result rows, requests whose body changes each send, collection preloading, and RSS sampling.
 * The server itself comes from ../lib/server.ts.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { markdownTable } from '../lib/report.js'

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

/** Resident set size of a process in bytes, from /proc (Linux); undefined elsewhere. */
export async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined)
  const match = status === undefined ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return match ? Number(match[1]) * 1024 : undefined
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

let uniqueCounter = 0

/**
 * `text` made unique for this whole process (a counter appended): every run, warm-up and round gets
 * texts never sent before, so a query cache cannot answer any of them.
 */
export const uniqueText = (text: string): string => `${text} ${uniqueCounter++}`

/** A request whose body is rebuilt before each send from the next item of `items`. */
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
  const header = ['run', 'connections', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', '5xx', 'socket errors']
  return markdownTable(header, rows.map((r) => [r.run, r.connections, r.requests, r.rps, r.p50_ms, r.p99_ms, r.max_ms, r.non2xx, r.server_errors, r.errors]))
}
