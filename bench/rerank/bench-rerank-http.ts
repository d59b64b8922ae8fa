/**
 * End-to-end rerank latency: POST /v1/rerank (Cohere shape) with N documents through a real server
 * (src/server.ts started as a child process, like the load benchmarks), at several concurrencies.
 * Registered nowhere; run it with tsx:
 *
 *   npx tsx bench/rerank/bench-rerank-http.ts --model funnel-dev/ce-minilm-l6-standin
 *
 * Each request sends the first SciFact query with a different window of N corpus texts (title +
 * abstract), so nothing is cached between requests. Latency is client-side wall time per request;
 * the server's own rerank_ms is reported next to it.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { firstQueryAndPassages } from '../../src/eval/beir.js'
import { numberList, parseCommand } from '../lib/args.js'
import { modelsDir as defaultModelsDir } from '../lib/models.js'
import { sharedDataset } from '../lib/paths.js'
import { markdownTable } from '../lib/report.js'
import { startServer, stopServer } from '../lib/server.js'
import { summarizeLatencies } from '../lib/stats.js'

const USAGE = `usage: npx tsx bench/rerank/bench-rerank-http.ts --model ID [--models-dir models] [--dataset ../shared/datasets/scifact]
       [--documents 100] [--concurrency 1,4] [--requests 4] [--threads 1] [--warmup 1] [--timeout-ms 60000]

--requests: requests per concurrency level (at least the concurrency). --threads: FUNNEL_ONNX_THREADS
for the server (intra-op threads per ONNX session). --timeout-ms: FUNNEL_REQUEST_TIMEOUT_MS (the
server's per-request deadline, default 60000; a request past it is a 503 and counted as an error,
not a latency). The server gets FUNNEL_MODELS_DIR=--models-dir
and a fresh FUNNEL_DATA_DIR in the temp folder.
`

interface RerankResponse {
  results: { index: number; score: number }[]
  truncated_documents: number
  timings: { rerank_ms: number; total_ms: number }
}

/** A non-2xx answer: counted per level instead of ending the run. */
class RequestFailed extends Error {}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    model: { type: 'string' },
    'models-dir': { type: 'string', default: defaultModelsDir },
    dataset: { type: 'string', default: sharedDataset('scifact') },
    documents: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1,4' },
    requests: { type: 'string', default: '4' },
    threads: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '60000' },
  })
  if (values.model === undefined) {
    process.stdout.write(USAGE)
    return
  }
  const modelsDir = path.resolve(values['models-dir'])
  if (!existsSync(path.join(modelsDir, values.model, 'config.json'))) throw new Error(`no ${values.model}/config.json under ${modelsDir}`)
  const documents = Number(values.documents)
  const levels = numberList('concurrency', values.concurrency)
  const perLevel = Number(values.requests)
  const totalWindows = Number(values.warmup) + levels.reduce((sum, c) => sum + Math.max(perLevel, c), 0)
  const texts = await firstQueryAndPassages(path.resolve(values.dataset), documents + totalWindows * 7)
  let window = 0
  /** A different slice of the corpus per request (shifted by 7 texts), so requests differ. */
  const nextBody = () => {
    const from = (window++ * 7) % Math.max(1, texts.passages.length - documents)
    return { query: texts.query, documents: texts.passages.slice(from, from + documents), model: values.model }
  }

  const work = await mkdtemp(path.join(os.tmpdir(), 'funnel-bench-rerank-http-'))
  const load = async () => (existsSync('/proc/loadavg') ? (await readFile('/proc/loadavg', 'utf8')).trim() : os.loadavg().join(' '))
  const loadBefore = await load()
  const server = await startServer({
    FUNNEL_MODELS_DIR: modelsDir,
    FUNNEL_DATA_DIR: path.join(work, 'data'),
    FUNNEL_ONNX_THREADS: values.threads,
    FUNNEL_REQUEST_TIMEOUT_MS: values['timeout-ms'],
    LOG_LEVEL: 'warn',
  })
  const rows: Record<string, string | number>[] = []
  try {
    const post = async (): Promise<{ ms: number; rerankMs: number; truncated: number }> => {
      const began = performance.now()
      const res = await fetch(`${server.url}/v1/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nextBody()) })
      const body = (await res.json()) as RerankResponse
      const ms = performance.now() - began
      if (!res.ok) throw new RequestFailed(`POST /v1/rerank failed with ${res.status} after ${Math.round(ms)} ms: ${JSON.stringify(body)}`)
      if (body.results.length !== documents) throw new Error(`expected ${documents} results, got ${body.results.length}`)
      return { ms, rerankMs: body.timings.rerank_ms, truncated: body.truncated_documents }
    }
    for (let i = 0; i < Number(values.warmup); i++) {
      const first = await post() // loads the model on first use
      process.stdout.write(`warm-up request: ${Math.round(first.ms)} ms (includes loading the model)\n`)
    }
    for (const concurrency of levels) {
      const total = Math.max(perLevel, concurrency)
      const latencies: number[] = []
      const rerankMs: number[] = []
      let truncated = 0
      let issued = 0
      const failures: string[] = []
      const began = performance.now()
      const worker = async () => {
        while (issued < total) {
          issued++
          let r: Awaited<ReturnType<typeof post>>
          try {
            r = await post()
          } catch (error) {
            if (!(error instanceof RequestFailed)) throw error
            failures.push(error.message)
            continue
          }
          latencies.push(r.ms)
          rerankMs.push(r.rerankMs)
          truncated = Math.max(truncated, r.truncated)
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker))
      const seconds = (performance.now() - began) / 1000
      for (const failure of failures) process.stdout.write(`concurrency ${concurrency}: ${failure}\n`)
      if (latencies.length === 0) {
        rows.push({ concurrency, requests: total, errors: failures.length })
        continue
      }
      const s = summarizeLatencies(latencies)
      const r = summarizeLatencies(rerankMs)
      rows.push({
        concurrency,
        requests: total,
        errors: failures.length,
        'p50 ms': Math.round(s.p50),
        'p99 ms': Math.round(s.p99),
        'max ms': Math.round(Math.max(...latencies)),
        'server rerank_ms p50': Math.round(r.p50),
        'requests/s': (latencies.length / seconds).toFixed(3),
        'pairs/s': ((latencies.length * documents) / seconds).toFixed(1),
        'truncated docs/request': truncated,
      })
      process.stdout.write(`concurrency ${concurrency}: ${latencies.map((ms) => Math.round(ms)).join(', ')} ms\n`)
    }
  } finally {
    await stopServer(server)
    await rm(work, { recursive: true, force: true })
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  process.stdout.write(
    `\nPOST /v1/rerank, ${documents} SciFact documents per request, model ${values.model}, FUNNEL_ONNX_THREADS=${values.threads}; ` +
      `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}, ${new Date().toISOString()}, ` +
      `loadavg ${loadBefore} -> ${await load()}\n` +
      markdownTable(columns, rows.map((row) => columns.map((c) => String(row[c] ?? '')))) +
      '\n',
  )
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-rerank-http failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
