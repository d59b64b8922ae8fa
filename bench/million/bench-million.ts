/**
 * npm run bench:million: the Matryoshka funnel at a million synthetic vectors, against full-dim HNSW and
 * FAISS HNSW + refine, in one run so the timings compare. Uses the product's own DenseIndex and
 * RescoreVectors (src/retrieval), single-threaded queries. See docs/benchmarks/million-vectors.md.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { execSync } from 'node:child_process'
import path from 'node:path'
import { DenseIndex, type HnswSettings } from '../../src/retrieval/hnsw-index.js'
import { RescoreVectors } from '../../src/retrieval/rescore-vectors.js'
import { numberList, parseCommand, positiveInt } from '../lib/args.js'
import { repoRoot } from '../lib/paths.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'
import { hnswlib } from '../../src/retrieval/hnswlib-binding.js'
import { HUGE_PAGE_TUNABLE } from '../../src/retrieval/huge-pages.js'
import { judgeGoals, type Row } from './goals.js'
import { Progress, formatDuration, recallAtK } from './measure.js'
import { DEFAULT_MIXTURE, perDimensionStd, synthesizeInto } from './synthesize.js'
import { MAKE_REAL_VECTORS, REAL_SOURCES, missingFiles, readFloat32, writeFloat32 } from './vector-files.js'

const USAGE = `usage: npm run bench:million -- [--model minilm|gemma] [--n 1000000] [--queries 1000] [--seed 1]
  [--fractions 2,4,6] [--oversample 1,2,4,10,20,40] [--ef 16,32,64,128,256] [--funnel-ef 32,64,128]
  [--m 16] [--ef-construction 100] [--faiss-fractions 4,1|none] [--rescore float16,int8,float32] [--python /tmp/funnel-faiss-venv/bin/python]
  [--pool-ef 200,300,500]   funnel rows whose shortlist is the candidate pool (the walk at this ef; needs the AVX2 addon with the pool)
Run it under nice -n 15 on a shared host. Vectors, exact neighbours and indexes are cached under bench-results/million/.`

const K = 10
const WARMUP = 50
const OUT_DIR = path.join(repoRoot, 'bench-results/million')
const here = path.join(repoRoot, 'bench/million')

const values = parseCommand(USAGE, {
  model: { type: 'string', default: 'minilm' },
  n: { type: 'string', default: '1000000' },
  queries: { type: 'string', default: '1000' },
  seed: { type: 'string', default: '1' },
  fractions: { type: 'string', default: '2,4,6' },
  oversample: { type: 'string', default: '1,2,4,10,20,40' },
  ef: { type: 'string', default: '16,32,64,128,256' },
  'funnel-ef': { type: 'string', default: '32,64,128' },
  'pool-ef': { type: 'string', default: '' },
  m: { type: 'string', default: '16' },
  'ef-construction': { type: 'string', default: '100' },
  'faiss-fractions': { type: 'string', default: '4,1' },
  rescore: { type: 'string', default: 'float16' },
  python: { type: 'string', default: '/tmp/funnel-faiss-venv/bin/python' },
})

const log = (message: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`)
const rssMb = (): number => process.memoryUsage().rss / 2 ** 20
const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

/** Synthetic docs and queries, made once per (model, n, queries, seed) and cached. */
function syntheticVectors(model: keyof typeof REAL_SOURCES, n: number, queryCount: number, seed: number, base: string) {
  const source = REAL_SOURCES[model]
  const docsFile = `${base}.docs.f32`
  const queriesFile = `${base}.queries.f32`
  const realDocs = readFloat32(source.docs, source.dims)
  const realQueries = readFloat32(source.queries, source.dims)
  if (!existsSync(docsFile) || statSync(docsFile).size !== n * source.dims * 4 || !existsSync(queriesFile)) {
    const docs = new Float32Array(n * source.dims)
    const std = perDimensionStd(realDocs, source.dims)
    const progress = new Progress('synthesize docs', n)
    for (let from = 0; from < n; from += 20_000) {
      synthesizeInto(docs, realDocs, std, DEFAULT_MIXTURE, seed, from, Math.min(20_000, n - from))
      progress.tick(Math.min(from + 20_000, n))
    }
    writeFloat32(docsFile, docs)
    const queries = new Float32Array(queryCount * source.dims)
    synthesizeInto(queries, realQueries, perDimensionStd(realQueries, source.dims), DEFAULT_MIXTURE, seed + 1, 0, queryCount)
    writeFloat32(queriesFile, queries)
  }
  return { docsFile, queriesFile, realDocs: source.docs, realQueries: source.queries, dims: source.dims }
}

function runPython(python: string, script: string, args: (string | number)[]): void {
  const result = spawnSync('nice', ['-n', '15', python, path.join(here, script), ...args.map(String)], { stdio: 'inherit', env: { ...process.env, FAISS_TMP: OUT_DIR } })
  if (result.status !== 0) throw new Error(`${script} failed (exit ${result.status})`)
}

/** Times `search` over every query after a warm-up; returns recall@10 and the latency figures. */
function measureQueries(queries: Float32Array, dims: number, truth: Int32Array, search: (q: Float32Array) => number[]) {
  const count = queries.length / dims
  const query = (i: number): Float32Array => queries.subarray(i * dims, (i + 1) * dims)
  for (let i = 0; i < Math.min(WARMUP, count); i++) search(query(i))
  const found: number[][] = []
  const ms: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    found.push(search(query(i)))
    ms.push(performance.now() - started)
  }
  const sorted = [...ms].sort((a, b) => a - b)
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
  return { recall: recallAtK(found, truth, K), qps: 1000 / (ms.reduce((a, b) => a + b, 0) / count), p50_ms: at(0.5), p99_ms: at(0.99) }
}

/** The index at `settings.dims`, loaded from an earlier run of the same set or built (with progress) and saved. */
async function indexFor(docs: Float32Array, fullDims: number, settings: HnswSettings, base: string) {
  const file = `${base}.hnsw${settings.dims}.m${settings.m}.efc${settings.efConstruction}`
  const n = docs.length / fullDims
  if (existsSync(`${file}.build.json`)) {
    const { index } = await DenseIndex.load(file, settings)
    if (index !== undefined && index.size === n) {
      const { seconds } = JSON.parse(readFileSync(`${file}.build.json`, 'utf8')) as { seconds: number }
      log(`reused the ${settings.dims}-dim index built in ${formatDuration(seconds)} by an earlier run`)
      return { index, seconds, bytes: statSync(`${file}.hnsw`).size, cached: true }
    }
  }
  const index = DenseIndex.create(settings, n)
  const progress = new Progress(`hnswlib build ${settings.dims} dims`, n)
  const started = performance.now()
  for (let i = 0; i < n; i++) {
    index.upsert(i, docs.subarray(i * fullDims, (i + 1) * fullDims))
    if (i % 1000 === 999) progress.tick(i + 1)
  }
  progress.tick(n)
  const seconds = (performance.now() - started) / 1000
  await index.save(file)
  writeFileSync(`${file}.build.json`, JSON.stringify({ seconds }))
  return { index, seconds, bytes: statSync(`${file}.hnsw`).size, cached: false }
}

async function main(): Promise<void> {
  const model = values.model as keyof typeof REAL_SOURCES
  if (!(model in REAL_SOURCES)) throw new Error(`--model must be one of ${Object.keys(REAL_SOURCES).join(', ')}, got ${values.model}`)
  const missing = missingFiles(REAL_SOURCES[model])
  if (missing.length > 0) {
    process.stderr.write(`The real embeddings this benchmark draws from are missing (bench-results/ is git-ignored):\n  ${missing.join('\n  ')}\nMake them with:\n  ${MAKE_REAL_VECTORS}\n`)
    process.exit(1)
  }
  if (!existsSync(values.python)) {
    process.stderr.write(`No Python with numpy and FAISS at ${values.python}. Make one with:\n  python3 -m venv /tmp/funnel-faiss-venv && /tmp/funnel-faiss-venv/bin/pip install faiss-cpu==1.15.1 numpy==2.4.6\n`)
    process.exit(1)
  }
  const n = positiveInt('n', values.n)
  const queryCount = positiveInt('queries', values.queries)
  const seed = positiveInt('seed', values.seed)
  const m = positiveInt('m', values.m)
  const efConstruction = positiveInt('ef-construction', values['ef-construction'])
  const oversamples = numberList('oversample', values.oversample)
  const poolEfs = values['pool-ef'] === '' ? [] : numberList('pool-ef', values['pool-ef'])
  const started = { date: new Date().toISOString(), load: loadAverage(), uptime: execSync('uptime').toString().trim() }
  mkdirSync(OUT_DIR, { recursive: true })
  const base = path.join(OUT_DIR, `${model}.n${n}.q${queryCount}.s${seed}`)
  log(`synthesizing ${n} docs and ${queryCount} queries from ${model} (cached at ${base}.*)`)
  const set = syntheticVectors(model, n, queryCount, seed, base)
  const dims = set.dims
  const funnelDims = numberList('fractions', values.fractions).map((f) => Math.round(dims / f))
  if (!existsSync(`${base}.gt.json`)) {
    log('exact neighbours by brute force (numpy)')
    runPython(values.python, 'exact_neighbours.py', [set.docsFile, set.queriesFile, dims, set.realDocs, set.realQueries, base, K, funnelDims.join(','), oversamples.join(',')])
  }
  const truthBytes = readFileSync(`${base}.gt.i32`)
  const truth = new Int32Array(truthBytes.buffer.slice(truthBytes.byteOffset, truthBytes.byteOffset + truthBytes.byteLength))
  const exact = JSON.parse(readFileSync(`${base}.gt.json`, 'utf8')) as unknown
  let docs: Float32Array | undefined = readFloat32(set.docsFile, dims)
  const queries = readFloat32(set.queriesFile, dims)
  const rows: Row[] = []
  const notes: string[] = []

  const encodings = values.rescore.split(',').map((e) => e.trim())
  const bad = encodings.filter((e) => !['float16', 'int8', 'float32'].includes(e))
  if (bad.length > 0 || encodings.length === 0) throw new Error(`--rescore takes float16, int8 and/or float32, got ${values.rescore}`)
  const rescorers = new Map<'float16' | 'int8' | 'float32', RescoreVectors>()
  for (const encoding of encodings as ('float16' | 'int8' | 'float32')[]) {
    log(`${encoding} rescoring vectors (RescoreVectors)`)
    const rssBeforeRescore = rssMb()
    const rescoreStarted = performance.now()
    const rescore = new RescoreVectors(encoding, dims, n)
    for (let i = 0; i < n; i++) rescore.set(i, docs.subarray(i * dims, (i + 1) * dims))
    rescorers.set(encoding, rescore)
    notes.push(`${encoding} rescoring vectors: ${((performance.now() - rescoreStarted) / 1000).toFixed(1)} s to fill, ${(rescore.bytes / 2 ** 20).toFixed(0)} MiB, RSS +${(rssMb() - rssBeforeRescore).toFixed(0)} MiB`)
  }

  for (const indexDims of [dims, ...funnelDims]) {
    gc()
    const rssBefore = rssMb()
    const settings: HnswSettings = { dims: indexDims, m, efConstruction, efSearch: 64 }
    const built = await indexFor(docs, dims, settings, base)
    const rssDelta = rssMb() - rssBefore
    log(`${indexDims}-dim index: ${formatDuration(built.seconds)} to build${built.cached ? ' (earlier run)' : ''}, ${(built.bytes / 2 ** 20).toFixed(0)} MiB`)
    const funnel = indexDims < dims
    for (const oversample of funnel ? oversamples : [1]) {
      // hnswlib searches with max(ef, k): an ef below k × oversample would repeat the row before it.
      const efs = numberList('ef', funnel ? values['funnel-ef'] : values.ef)
      for (const ef of efs.filter((ef, i) => i === 0 || ef > K * oversample)) {
        const index = built.index
        index.settings.efSearch = ef
        for (const [encoding, rescore] of funnel ? [...rescorers] : [[undefined, undefined] as const]) {
          const measured = measureQueries(queries, dims, truth, (q) =>
            rescore !== undefined
              ? rescore.rescore(q, index.search(q, K * oversample).map((h) => h.label), dims, K).map((s) => s.label)
              : index.search(q, K).sort((a, b) => b.similarity - a.similarity || a.label - b.label).map((h) => h.label),
          )
          rows.push({ engine: 'hnswlib', index_dims: indexDims, oversample, ef_search: Math.max(ef, K * oversample), build_s: built.seconds, index_bytes: built.bytes, rescore_bytes: rescore?.bytes ?? 0, ...(encoding !== undefined && { rescore: encoding }), rss_mb: rssMb(), rss_delta_mb: rssDelta, ...measured })
          log(`hnswlib d=${indexDims} oversample=${oversample} ef=${ef}${encoding === undefined ? '' : ` ${encoding}`}: recall ${measured.recall.toFixed(3)}, ${measured.qps.toFixed(0)} QPS`)
        }
      }
      // The candidate pool: the walk keeps its ef (below k × oversample) and the shortlist is the best of every node it scored.
      for (const ef of funnel ? poolEfs.filter((ef) => ef < K * oversample) : []) {
        if (!hnswlib.candidatePool) throw new Error('--pool-ef needs the AVX2 hnswlib addon with the candidate pool (npm ci builds it; FUNNEL_HNSWLIB_AVX2 must not be off)')
        const index = built.index
        index.settings.efSearch = 1
        for (const [encoding, rescore] of rescorers) {
          const measured = measureQueries(queries, dims, truth, (q) => rescore.rescore(q, index.search(q, K * oversample, undefined, { ef }).map((h) => h.label), dims, K).map((s) => s.label))
          rows.push({ engine: 'hnswlib', index_dims: indexDims, oversample, ef_search: ef, pool: true, build_s: built.seconds, index_bytes: built.bytes, rescore_bytes: rescore.bytes, rescore: encoding, rss_mb: rssMb(), rss_delta_mb: rssDelta, ...measured })
          log(`hnswlib d=${indexDims} oversample=${oversample} pool ef=${ef} ${encoding}: recall ${measured.recall.toFixed(3)}, ${measured.qps.toFixed(0)} QPS`)
        }
      }
    }
  }
  const nodePeakRssMb = process.resourceUsage().maxRSS / 1024
  docs = undefined
  gc()

  const faissFractions = values['faiss-fractions'] === 'none' ? [] : numberList('faiss-fractions', values['faiss-fractions'])
  let faissVersion: string | undefined
  if (faissFractions.length > 0) {
    log('FAISS rows (separate process, one thread)')
    const faissOut = `${base}.faiss-rows.json`
    const faissDims = faissFractions.map((f) => Math.round(dims / f))
    runPython(values.python, 'faiss_rows.py', [set.docsFile, set.queriesFile, dims, `${base}.gt.i32`, faissOut, K, m, efConstruction, faissDims.join(','), oversamples.join(','), values['funnel-ef'], values.ef])
    const faiss = JSON.parse(readFileSync(faissOut, 'utf8')) as { faiss: string; peak_rss_mb: number; rows: Row[] }
    faissVersion = faiss.faiss
    rows.push(...faiss.rows)
    notes.push(`FAISS ${faiss.faiss} process peak RSS ${faiss.peak_rss_mb.toFixed(0)} MiB`)
  }
  notes.push(`huge pages for index memory: ${machineInfo().huge_pages ? 'yes' : 'no'} (GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? ''}; npm run bench:million sets ${HUGE_PAGE_TUNABLE} unless GLIBC_TUNABLES is set, as npm start does)`)
  notes.push(`hnswlib addon: ${hnswlib.variant} (${hnswlib.reason}; FUNNEL_HNSWLIB_AVX2=off measures the SSE build)`)
  notes.push(`Node process peak RSS ${nodePeakRssMb.toFixed(0)} MiB (holds the ${n} x ${dims} float32 corpus, ${((n * dims * 4) / 2 ** 20).toFixed(0)} MiB, while building)`)

  const goals = judgeGoals(rows, dims, Math.round(dims / 4))
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0)
  const table = markdownTable(
    ['engine', 'index dims', 'oversample', 'ef_search', 'build s', 'index MiB', 'rescore MiB', 'RSS MiB', 'RSS Δ MiB', 'recall@10', 'QPS', 'p50 ms', 'p99 ms'],
    rows.map((r) => [
      r.engine === 'hnswlib' ? (r.index_dims === dims ? 'hnswlib full-dim (DenseIndex)' : `funnel (DenseIndex${r.pool === true ? ' pool' : ''} + RescoreVectors ${r.rescore === 'float32' ? 'f32' : r.rescore === 'int8' ? 'int8' : 'f16'})`) : r.index_dims === dims ? 'FAISS HNSWFlat full-dim' : 'FAISS HNSWFlat + RefineFlat',
      r.index_dims, r.oversample, r.ef_search, r.build_s.toFixed(0), mib(r.index_bytes), mib(r.rescore_bytes), r.rss_mb.toFixed(0), r.rss_delta_mb.toFixed(0),
      r.recall.toFixed(3), r.qps.toFixed(0), r.p50_ms.toFixed(2), r.p99_ms.toFixed(2),
    ]),
  )
  const ended = { date: new Date().toISOString(), load: loadAverage(), uptime: execSync('uptime').toString().trim() }
  const title = `${n.toLocaleString('en-US')} x ${dims} synthetic vectors (${model}), ${queryCount} queries, k=${K}, M=${m}, ef_construction=${efConstruction}`
  const report = [`## ${title}`, '', table, '', ...goals.lines.map((l) => `- ${l}`), '', ...notes.map((l) => `- ${l}`), '', `- start: ${started.uptime}`, `- end: ${ended.uptime}`].join('\n')
  process.stdout.write(`${report}\n`)
  const stamp = Date.now()
  writeFileSync(`${base}.result-${stamp}.md`, `${report}\n`)
  writeFileSync(`${base}.result-${stamp}.json`, JSON.stringify({ title, machine: machineInfo(), faiss: faissVersion, mixture: DEFAULT_MIXTURE, started, ended, exact, rows, goals: goals.lines, notes }, null, 1))
  log(`wrote ${base}.result-${stamp}.{md,json}`)
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
