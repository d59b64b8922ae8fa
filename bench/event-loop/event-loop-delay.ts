import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { parseCommand } from '../lib/args.js'
import { modelsDir } from '../lib/models.js'

const USAGE = `usage: npm run bench:event-loop -- [--models-dir ./models] [--model funnel/glove-6b-100d-static] [--only 'part of a case name|another']
                                [--max-document-chars N (FUNNEL_MAX_DOCUMENT_CHARS; default the server's)] [--in-thread-onnx]
                                [--rerank-model ID (adds a /v1/rerank case: 100 passages of 2 KB)]

Worst event-loop delay while the server answers one large request at a time (issue 13, finding 4).
The server runs in this process, so perf_hooks.monitorEventLoopDelay (1 ms resolution) sees every
synchronous stretch; request bodies are built and UTF-8 encoded before the histogram is reset, and
sent and read by a client on a worker thread (its own event loop and heap, as an external client
would be), and each case runs alone. Load shedding and the request timeout are off so that no case is cut short. Prints a
Markdown table: case, status, wall ms, worst event-loop delay ms, p99 ms, and the CPU time the
process used during its longest stall (what the code costs, whatever the load on the host).
--in-thread-onnx runs onnxruntime sessions on the main thread (FUNNEL_ONNX_WORKER=false) instead of
the default worker threads, to show what the worker saves.`

const COLLECTION = 'loop'
const HUGE = 'loop-huge'

/** Deterministic pseudo-words (xorshift), so every run indexes the same text. */
function wordSource(seed = 13) {
  let state = seed
  const next = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 4294967296
  }
  const vocabulary = Array.from({ length: 50_000 }, () => {
    const length = 3 + Math.floor(next() * 8)
    return Array.from({ length }, () => String.fromCharCode(97 + Math.floor(next() * 26))).join('')
  })
  // Zipf-like: low ranks far more often, as in real text.
  const word = () => vocabulary[Math.floor(vocabulary.length * next() ** 3)]!
  const text = (chars: number) => {
    const parts: string[] = []
    let length = 0
    while (length < chars) {
      const w = word()
      parts.push(w)
      length += w.length + 1
    }
    return parts.join(' ').slice(0, chars)
  }
  return { text, vocabulary }
}

/**
 * The HTTP client, on a worker thread: encoding a 10 MB request and decoding its answer on the
 * server's own loop was once the worst window of a run. The body arrives as bytes (transferred).
 */
class ClientThread {
  private readonly worker = new Worker(
    `const { parentPort } = require('node:worker_threads')
    parentPort.on('message', async ({ url, method, body }) => {
      try {
        const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body })
        parentPort.postMessage({ status: res.status, text: await res.text() })
      } catch (error) {
        parentPort.postMessage({ status: 0, text: String(error) })
      }
    })`,
    { eval: true },
  )

  request(url: string, method: string, body: Uint8Array): Promise<{ status: number; text: string }> {
    return new Promise((resolve) => {
      this.worker.once('message', resolve)
      this.worker.postMessage({ url, method, body }, [body.buffer as ArrayBuffer])
    })
  }

  close(): Promise<number> {
    return this.worker.terminate()
  }
}

interface CaseResult {
  name: string
  status: number
  wallMs: number
  maxDelayMs: number
  p99DelayMs: number
  /** CPU time the process used during its longest stall (see StallMonitor). */
  maxStallCpuMs: number
  /** Start and end of the longest stall, monotonic microseconds (to find it in a --cpu-prof profile). */
  worstStallUs: [number, number]
  note: string
}

/**
 * The longest stall of the event loop measured in CPU time as well as wall time: a 1 ms interval
 * timer notes the wall clock and `process.cpuUsage()` at every fire, and a gap between two fires is a
 * stall of the loop. On a busy shared host a 30 ms stretch of work can take 300 ms of wall time while
 * the process waits for a core, so the wall delay measures the host as much as the code; the CPU time
 * used inside the gap measures the code (it also counts other threads of the process, e.g. an
 * onnxruntime thread, so it is an upper bound for the main thread's stretch).
 */
class StallMonitor {
  private timer: NodeJS.Timeout | undefined
  private lastWall = 0
  private lastCpu = 0
  maxWallMs = 0
  maxCpuMs = 0
  /** The longest stall on the monotonic clock `node --cpu-prof` timestamps use (microseconds). */
  worstStallUs: [number, number] = [0, 0]

  private static cpuMs(): number {
    const usage = process.cpuUsage()
    return (usage.user + usage.system) / 1000
  }

  reset(): void {
    this.stop()
    this.maxWallMs = 0
    this.maxCpuMs = 0
    this.lastWall = performance.now()
    this.lastCpu = StallMonitor.cpuMs()
    this.timer = setInterval(() => {
      const wall = performance.now()
      const cpu = StallMonitor.cpuMs()
      if (wall - this.lastWall > this.maxWallMs) {
        this.maxWallMs = wall - this.lastWall
        const endUs = Number(process.hrtime.bigint() / 1000n)
        this.worstStallUs = [endUs - Math.round(this.maxWallMs * 1000), endUs]
      }
      if (cpu - this.lastCpu > this.maxCpuMs) this.maxCpuMs = cpu - this.lastCpu
      this.lastWall = wall
      this.lastCpu = cpu
    }, 1)
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

function parseOptions() {
  const values = parseCommand(USAGE, {
    'models-dir': { type: 'string', default: modelsDir },
    model: { type: 'string', default: 'funnel/glove-6b-100d-static' },
    only: { type: 'string' },
    'max-document-chars': { type: 'string' },
    'in-thread-onnx': { type: 'boolean', default: false },
    'rerank-model': { type: 'string' },
  })
  const maxDocumentChars = values['max-document-chars'] === undefined ? undefined : Number(values['max-document-chars'])
  return { modelsDir: values['models-dir'], model: values.model, only: values.only?.split('|'), maxDocumentChars, inThreadOnnx: values['in-thread-onnx'], rerankModel: values['rerank-model'] }
}

async function main(): Promise<void> {
  const options = parseOptions()
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-loop-'))
  const config = loadConfig(
    {},
    {
      dataDir,
      modelsDir: options.modelsDir,
      embeddingModel: options.model,
      logLevel: 'silent',
      auth: 'off',
      shedMaxHeapUsedRatio: 0,
      requestTimeoutMs: 0,
      indexSaveIntervalMs: 60_000,
      ...(options.maxDocumentChars !== undefined && { maxDocumentChars: options.maxDocumentChars }),
      ...(options.inThreadOnnx && { onnxWorker: false }),
    },
  )
  const largest = config.maxDocumentChars
  const app = await buildApp(config)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  for (let i = 0; i < 2400; i++) {
    if ((await fetch(`${url}/readyz`)).status === 200) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const stalls = new StallMonitor()
  const client = new ClientThread()
  const results: CaseResult[] = []
  const { text, vocabulary } = wordSource()

  const run = async (name: string, method: string, route: string, body: unknown, note = ''): Promise<unknown> => {
    if (options.only !== undefined && !options.only.some((part) => name.includes(part))) return undefined
    const payload = new Uint8Array(Buffer.from(JSON.stringify(body)))
    await new Promise((r) => setTimeout(r, 100))
    histogram.reset()
    stalls.reset()
    const started = performance.now()
    const res = await client.request(`${url}${route}`, method, payload)
    const answer = res.text
    const wallMs = performance.now() - started
    stalls.stop()
    const result = {
      name,
      status: res.status,
      wallMs: Math.round(wallMs),
      maxDelayMs: Math.round(histogram.max / 1e6),
      p99DelayMs: Math.round(histogram.percentile(99) / 1e6),
      maxStallCpuMs: Math.round(stalls.maxCpuMs),
      worstStallUs: stalls.worstStallUs,
      note: res.status >= 400 ? (JSON.parse(answer) as { error: { code: string } }).error.code : note,
    }
    results.push(result)
    console.error(JSON.stringify(result))
    return res.status < 400 ? JSON.parse(answer) : undefined
  }

  const create = async (name: string) => {
    const res = await fetch(`${url}/v1/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, default_mode: 'hybrid' }) })
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`)
  }
  await create(COLLECTION)
  await create(HUGE)

  const docs = Array.from({ length: 1000 }, (_, i) => ({ id: `d${i}`, text: text(10_000) }))
  await run('upsert 1,000 x 10 KB documents', 'PUT', `/v1/collections/${COLLECTION}/documents`, { documents: docs })
  await run('upsert one 12 MB document', 'PUT', `/v1/collections/${HUGE}/documents`, { documents: [{ id: 'twelve-mb', text: text(12_000_000) }] })
  await run('upsert one 1 MB document', 'PUT', `/v1/collections/${HUGE}/documents`, { documents: [{ id: 'one-mb', text: text(1_000_000) }, { id: 'small', text: text(500) }] })
  await run(`upsert one document of FUNNEL_MAX_DOCUMENT_CHARS (${largest} characters)`, 'PUT', `/v1/collections/${HUGE}/documents`, {
    documents: [{ id: 'largest', text: text(largest) }, { id: 'small', text: text(500) }],
  })
  const query = docs[0]!.text.slice(0, 60)
  const prfSearch = { query, top_k: 10, mode: 'hybrid', prf: { depth: 100 }, fusion: { candidates: 1000 } }
  await run('hybrid search, prf.depth 100, fusion.candidates 1000', 'POST', `/v1/collections/${COLLECTION}/search`, prfSearch)
  // The first response of a shape compiles parts of its serializer (ajv, once per process): the same search again shows the steady state.
  await run('the same search again', 'POST', `/v1/collections/${COLLECTION}/search`, prfSearch)
  await run(`hybrid search over a collection holding that document`, 'POST', `/v1/collections/${HUGE}/search`, {
    query: text(60),
    top_k: 10,
    mode: 'hybrid',
  })
  await run(`hybrid search with PRF over a collection holding that document`, 'POST', `/v1/collections/${HUGE}/search`, {
    query: text(60),
    top_k: 10,
    mode: 'hybrid',
    prf: { depth: 2 },
  })
  if (options.rerankModel !== undefined) {
    const documents = Array.from({ length: 100 }, () => text(2_000))
    const body = { model: options.rerankModel, query: text(60), documents, top_n: 10 }
    await run(`rerank 100 x 2 KB passages with ${options.rerankModel}`, 'POST', '/v1/rerank', body)
    await run('the same rerank again', 'POST', '/v1/rerank', body)
  }
  await run('lexical search, 32,000 distinct query terms', 'POST', `/v1/collections/${COLLECTION}/search`, {
    query: vocabulary.slice(0, 32_000).join(' '),
    top_k: 10,
    mode: 'lexical',
  })

  histogram.disable()
  await client.close()
  await app.close()
  await rm(dataDir, { recursive: true, force: true })
  console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log('| case | status | wall ms | worst event-loop delay ms | p99 delay ms | CPU ms in the worst stall |')
  console.log('|---|---|---|---|---|---|')
  for (const r of results) console.log(`| ${r.name} | ${r.status}${r.note === '' ? '' : ` ${r.note}`} | ${r.wallMs} | ${r.maxDelayMs} | ${r.p99DelayMs} | ${r.maxStallCpuMs} |`)
}

await main()
