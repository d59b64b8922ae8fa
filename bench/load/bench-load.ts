import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { numberList, parseCommand } from '../lib/args.js'
import { corpusDocuments, queryTexts } from '../lib/datasets.js'
import { chooseModel } from '../lib/models.js'
import { resultPath, sharedDataset, writeResult } from '../lib/paths.js'
import { loadAverage, machineInfo } from '../lib/report.js'
import { startServer, stopServer, type ServerProcess } from '../lib/server.js'
import { mb, measure, preload, residentBytes, rotating, table, uniqueText, withRssSampling, type RunRow } from './load-driver.js'

const USAGE = `usage: npm run bench:load -- [--dataset ../shared/datasets/scifact] [--docs 2000] [--concurrency 1,8,32]
       [--duration 10] [--mixed-duration 30] [--mixed-connections 8] [--upsert-share 0.2] [--model ID]
       [--log-level info] [--repeat-queries] [--out FILE]

Starts the server as a child process on 127.0.0.1 (the offline default model when models/ holds it,
else the tiny fixture embedder), preloads --docs documents, then drives it with autocannon:
/v1/embeddings and /search at each concurrency, and a mixed run of upserts of new documents and
searches while sampling the server's RSS every second. The server runs with its default settings
(logging at info, load shedding on). Prints a table; writes JSON to bench-results/.
`

const COLLECTION = 'bench-load'

function parseOptions() {
  const values = parseCommand(USAGE, {
    dataset: { type: 'string', default: sharedDataset('scifact') },
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
  })
  return {
    ...values,
    docs: Number(values.docs),
    concurrency: numberList('concurrency', values.concurrency),
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
  const unique = (query: string) => (options['repeat-queries'] ? query : uniqueText(query))
  const search = rotating('POST', `/v1/collections/${COLLECTION}/search`, queries, (query) => ({ query: unique(query), top_k: 10 }))
  const embed = rotating('POST', '/v1/embeddings', queries, (input) => ({ input: unique(input) }))

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
  const loadAtStart = loadAverage()
  const work = await mkdtemp(path.join(os.tmpdir(), 'funnel-bench-load-'))
  const { modelsDir, model } = await chooseModel(options.model, work)
  const corpus = await corpusDocuments(options.dataset)
  const queries = await queryTexts(options.dataset)
  if (corpus.length < options.docs) throw new Error(`the dataset has ${corpus.length} documents; --docs asks for ${options.docs}`)

  const server = await startServer({ FUNNEL_DATA_DIR: path.join(work, 'data'), FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: model, FUNNEL_BUILD_DEFAULT_MODEL: 'false', LOG_LEVEL: options['log-level'] })
  try {
    const rssAtStart = (await residentBytes(server.child.pid!)) ?? 0
    const ingest = await preload(server.url, COLLECTION, model, corpus, options.docs)
    process.stderr.write(`bench: preloaded ${options.docs} documents in ${ingest.seconds.toFixed(1)} s\n`)
    const { rows, rss } = await runLoad(server, options, corpus, queries)
    const count = ((await (await fetch(`${server.url}/v1/collections/${COLLECTION}`)).json()) as { count: number }).count
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
      machine: { ...machineInfo(), loadavg_start: loadAtStart, loadavg_end: loadAverage(), platform: `${os.type()} ${os.release()}` },
      date: new Date().toISOString(),
    }
    const out = await writeResult(resultPath('bench-load', options.out), result)
    process.stdout.write(
      `model ${model}; ${options.docs} ${result.dataset} documents preloaded at ${result.preload.docs_per_second} docs/s; ${count} after the mixed run\n\n` +
        table(rows) +
        `\n\nserver RSS: ${mb(rssAtStart)} MiB at start; mixed run ${mb(rss.start)} MiB -> ${mb(rss.end)} MiB, max ${mb(rss.max)} MiB\n` +
        `machine: ${result.machine.cpus} CPUs (${result.machine.cpu}), load average ${result.machine.loadavg_start.join(' ')} at start, ${result.machine.loadavg_end.join(' ')} at end; node ${process.version}\n` +
        `result: ${out}\n`,
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
