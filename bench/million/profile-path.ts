/**
 * npm run bench:million:profile — the whole per-search path of the funnel at a million vectors, stage
 * by stage, each against its floor measured in the same run (issue 16):
 *
 *   embed    EmbeddingModel.embed of a real SciFact query (tokenise, ONNX, pool)  | floor: the ONNX session's own run time
 *   hnsw     DenseIndex.search for top_k × oversample at the index dims              | floor: the hnswlib addon's searchKnn alone
 *   rescore  RescoreVectors.rescore (float16, full dims) of that shortlist           | floor: the SIMD kernel alone on the same rows
 *   ids      SqliteStore.idsByLabels of the best top_k (as denseSearch does)          | floor: one prepared SELECT with the labels bound
 *   hydrate  SqliteStore.documentsByIds: text + metadata of the top_k (as hydrate does) | floor: one prepared SELECT by id, ids bound, metadata parsed
 *
 * The index is the one `npm run bench:million` built and cached for the same set (run that first);
 * the store is a real SQLite file of the set's million documents, made once and cached beside it
 * (text: real SciFact abstracts, document i taking abstract i modulo 2,000 of the sub2000 set;
 * no vectors table rows, which this path does not read with in-memory rescoring). Query vectors for
 * hnsw/rescore are the set's synthetic queries (so recall is known); the embed stage embeds the real
 * SciFact test queries. Single-threaded, one query at a time, after a warm-up.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { findModel, modelDirectory, readManifest } from '../../src/models/manifest.js'
import { hnswlib } from '../../src/retrieval/hnswlib-binding.js'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { RescoreVectors } from '../../src/retrieval/rescore-vectors.js'
import { simdDot } from '../../src/retrieval/simd-dot.js'
import { truncateAndNormalize } from '../../src/retrieval/vector-math.js'
import { SqliteStore } from '../../src/store/embedded/sqlite-store.js'
import { readDocs, readJudgedQueries, corpusSubset, readQrels } from '../matryoshka/dataset.js'
import { numberList, parseCommand, positiveInt } from '../lib/args.js'
import { repoRoot, sharedDataset } from '../lib/paths.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'
import { Progress, recallAtK } from './measure.js'
import { readFloat32, REAL_SOURCES } from './vector-files.js'

const USAGE = `usage: npm run bench:million:profile -- [--model gemma|minilm] [--n 1000000] [--index-dims D] [--oversample 20,40] [--ef N]
  [--queries 1000] [--embed-queries 100] [--m 16] [--ef-construction 100]
Needs the set and index that \`npm run bench:million -- --model M --n N --fractions F\` cached under bench-results/million/.`

const EMBEDDERS = { gemma: 'google/embeddinggemma-300m', minilm: 'sentence-transformers/all-MiniLM-L6-v2' } as const
const K = 10
const WARMUP = 30
const COLLECTION = 'profile'

const values = parseCommand(USAGE, {
  model: { type: 'string', default: 'gemma' },
  n: { type: 'string', default: '1000000' },
  'index-dims': { type: 'string' },
  oversample: { type: 'string', default: '20,40' },
  ef: { type: 'string' },
  queries: { type: 'string', default: '1000' },
  'embed-queries': { type: 'string', default: '100' },
  m: { type: 'string', default: '16' },
  'ef-construction': { type: 'string', default: '100' },
  'models-dir': { type: 'string', default: process.env.FUNNEL_MODELS_DIR ?? 'models' },
})

const log = (message: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`)

/** Per-query milliseconds of one stage and of its floor. */
class Stage {
  readonly ms: number[] = []
  readonly floorMs: number[] = []
  constructor(
    readonly name: string,
    readonly what: string,
    readonly floor: string,
  ) {}
}

const quantile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? Number.NaN
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

function time<T>(into: number[], fn: () => T): T {
  const started = performance.now()
  const out = fn()
  into.push(performance.now() - started)
  return out
}

/** The SQLite store of the set's documents, made once (1M rows of real abstract text). */
function storeFor(file: string, n: number, texts: string[]): SqliteStore {
  if (existsSync(file)) {
    const store = new SqliteStore(file)
    if (store.getCollection(COLLECTION) !== undefined && store.countDocuments(COLLECTION) === n) return store
    store.close()
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  }
  const store = new SqliteStore(file)
  store.createCollection({ name: COLLECTION, model: 'synthetic', dims: 0, index_dims: 0, index: { m: 16, ef_construction: 100, ef_search: 100 }, settings: {} })
  const progress = new Progress('sqlite documents', n)
  const empty = new Float32Array(0)
  for (let from = 0; from < n; from += 20_000) {
    const docs = Array.from({ length: Math.min(20_000, n - from) }, (_, j) => ({ id: `doc${from + j}`, text: texts[(from + j) % texts.length]!, metadata: { i: from + j }, vector: empty }))
    store.transaction(() => store.upsertDocuments(COLLECTION, docs))
    progress.tick(from + docs.length)
  }
  return store
}

async function main(): Promise<void> {
  const model = values.model as keyof typeof REAL_SOURCES
  if (!(model in REAL_SOURCES)) throw new Error(`--model must be one of ${Object.keys(REAL_SOURCES).join(', ')}`)
  const dims = REAL_SOURCES[model].dims
  const n = positiveInt('n', values.n)
  const indexDims = values['index-dims'] !== undefined ? positiveInt('index-dims', values['index-dims']) : dims / 4
  const settings = { dims: indexDims, m: positiveInt('m', values.m), efConstruction: positiveInt('ef-construction', values['ef-construction']), efSearch: 10 }
  const queryCount = positiveInt('queries', values.queries)
  const base = path.join(repoRoot, 'bench-results/million', `${model}.n${n}.q${queryCount}.s1`)
  const indexBase = `${base}.hnsw${indexDims}.m${settings.m}.efc${settings.efConstruction}`
  if (!existsSync(`${indexBase}.build.json`)) {
    process.stderr.write(`No cached ${indexDims}-dim index at ${indexBase}; build it with:\n  nice -n 15 npm run bench:million -- --model ${model} --n ${n} --fractions ${dims / indexDims} --faiss-fractions none\n`)
    process.exit(1)
  }
  const started = { date: new Date().toISOString(), load: loadAverage() }
  log(`loading the ${indexDims}-dim index, the set and its exact neighbours`)
  const { index } = await DenseIndex.load(indexBase, settings)
  if (index === undefined) throw new Error(`could not load ${indexBase}`)
  const docs = readFloat32(`${base}.docs.f32`, dims)
  const queries = readFloat32(`${base}.queries.f32`, dims)
  const truthBytes = readFileSync(`${base}.gt.i32`)
  const truth = new Int32Array(truthBytes.buffer.slice(truthBytes.byteOffset, truthBytes.byteOffset + truthBytes.byteLength))
  const rescore = new RescoreVectors('float16', dims, n)
  for (let i = 0; i < n; i++) rescore.set(i, docs.subarray(i * dims, (i + 1) * dims))

  const datasetDir = sharedDataset('scifact')
  const realDocs = corpusSubset(await readDocs(datasetDir), await readQrels(datasetDir, 'test'), 2000)
  log('SQLite store of the documents')
  const store = storeFor(`${base}.profile.sqlite`, n, realDocs.map((d) => d.text))
  // Store labels start at 1 in insertion order: index label i is store label i + 1.
  const rawIds = store.db.prepare(`SELECT label, id FROM documents WHERE label IN (${Array(K).fill('?').join(',')})`)
  const rawDocs = store.db.prepare(`SELECT label, id, text, metadata FROM documents WHERE collection = ? AND id IN (${Array(K).fill('?').join(',')})`)

  const rows: (string | number)[][] = []
  const results: Record<string, unknown>[] = []
  for (const oversample of numberList('oversample', values.oversample)) {
    const shortlist = K * oversample
    // The search's ef: --ef when larger than the shortlist (hnswlib needs ef >= k), else the shortlist.
    const ef = Math.max(values.ef !== undefined ? positiveInt('ef', values.ef) : 0, shortlist)
    index.settings.efSearch = ef
    const stages = {
      hnsw: new Stage('hnsw', `DenseIndex.search, ${shortlist} at ${indexDims} dims (ef ${ef})`, 'addon searchKnn alone'),
      rescore: new Stage('rescore', `RescoreVectors.rescore float16, ${shortlist} at ${dims} dims`, 'SIMD kernel alone, same rows'),
      ids: new Stage('ids', `SqliteStore.idsByLabels, ${K}`, `prepared SELECT, ${K} labels bound`),
      hydrate: new Stage('hydrate', `SqliteStore.documentsByIds, ${K}`, 'prepared SELECT by id, ids bound, metadata parsed'),
    }
    const found: number[][] = []
    const out = new Float32Array(shortlist)
    const halfRows = (rescore as unknown as { rows: Uint16Array }).rows
    for (let i = -WARMUP; i < queryCount; i++) {
      const q = queries.subarray(((i + queryCount) % queryCount) * dims, (((i + queryCount) % queryCount) + 1) * dims)
      const measure = i >= 0
      const sink = (xs: number[]) => (measure ? xs : [])
      // Each stage and its floor run back to back on the same input; which goes first alternates by
      // query, so neither always finds the caches warmed by the other.
      const pair = <T,>(stage: Stage, product: () => T, floor: () => unknown): T => {
        let out: T | undefined
        const runProduct = () => (out = time(sink(stage.ms), product))
        const runFloor = () => time(sink(stage.floorMs), floor)
        if (i % 2 === 0) {
          runProduct()
          runFloor()
        } else {
          runFloor()
          runProduct()
        }
        return out as T
      }
      const inner = (index as unknown as { inner: { setEf(ef: number): void; searchKnn(q: number[], k: number): unknown } }).inner
      const rawArray = Array.from(truncateAndNormalize(q, indexDims))
      const neighbours = pair(stages.hnsw, () => index.search(q, shortlist), () => {
        inner.setEf(ef)
        inner.searchKnn(rawArray, shortlist)
      })
      const labels = neighbours.map((nb) => nb.label)
      // Floor: the same SIMD dot products over the same rows where they lie (the gather included),
      // without the label lookups, result objects and ranking around them.
      const offsets = labels.map((label) => label * dims)
      const best = pair(stages.rescore, () => rescore.rescore(q, labels, dims, K), () => simdDot().score(q, dims, halfRows, offsets, dims, out))
      const storeLabels = best.map((s) => s.label + 1)
      const ids = pair(stages.ids, () => store.idsByLabels(COLLECTION, storeLabels), () => rawIds.all(...storeLabels))
      pair(
        stages.hydrate,
        () => store.documentsByIds(COLLECTION, [...ids.values()]),
        () => (rawDocs.all(COLLECTION, ...ids.values()) as { metadata: string | null }[]).map((r) => (r.metadata === null ? null : JSON.parse(r.metadata))),
      )
      if (measure) found.push(best.map((s) => s.label))
    }
    const recall = recallAtK(found, truth, K)
    log(`oversample ${oversample}: recall@10 ${recall.toFixed(3)}`)
    for (const stage of Object.values(stages)) {
      const ratio = mean(stage.ms) / mean(stage.floorMs)
      rows.push([`×${oversample}`, stage.name, stage.what, mean(stage.ms).toFixed(3), quantile(stage.ms, 0.99).toFixed(3), stage.floor, mean(stage.floorMs).toFixed(3), `${ratio.toFixed(2)}×`])
      results.push({ oversample, recall, stage: stage.name, mean_ms: mean(stage.ms), p99_ms: quantile(stage.ms, 0.99), floor: stage.floor, floor_mean_ms: mean(stage.floorMs), ratio })
    }
    rows.push([`×${oversample}`, 'recall@10', recall.toFixed(3), '', '', '', '', ''])
  }

  // The embed stage: real SciFact test queries through the product's EmbeddingModel.
  const embedderId = EMBEDDERS[model]
  const entry = findModel(readManifest(), embedderId)
  const onnxMs: number[] = []
  const embedder = await EmbeddingModel.load(modelDirectory(values['models-dir'], embedderId), {
    id: embedderId,
    maxLength: entry?.max_length ?? 512,
    ...(entry?.pooling !== undefined && entry.pooling !== 'in-graph' && { pooling: entry.pooling }),
    ...(entry?.normalize !== undefined && { normalize: entry.normalize }),
    ...(entry?.prefixes !== undefined && { prefixes: entry.prefixes }),
    onRun: (ms) => onnxMs.push(ms),
  })
  const texts = (await readJudgedQueries(datasetDir, 'test')).map((q) => q.text)
  const embedCount = Math.min(positiveInt('embed-queries', values['embed-queries']), texts.length)
  const embed = new Stage('embed', `EmbeddingModel.embed, 1 query (${embedderId}, on ${embedder.onWorker ? 'a worker' : 'the main thread'})`, 'ONNX session run')
  for (let i = -5; i < embedCount; i++) {
    const before = onnxMs.length
    const started = performance.now()
    await embedder.embed([texts[(i + texts.length) % texts.length]!], 'query')
    if (i < 0) continue
    embed.ms.push(performance.now() - started)
    embed.floorMs.push(onnxMs.slice(before).reduce((a, b) => a + b, 0))
  }
  await embedder.dispose()
  const ratio = mean(embed.ms) / mean(embed.floorMs)
  rows.unshift(['all', embed.name, embed.what, mean(embed.ms).toFixed(3), quantile(embed.ms, 0.99).toFixed(3), embed.floor, mean(embed.floorMs).toFixed(3), `${ratio.toFixed(2)}×`])
  results.unshift({ stage: 'embed', mean_ms: mean(embed.ms), p99_ms: quantile(embed.ms, 0.99), floor: embed.floor, floor_mean_ms: mean(embed.floorMs), ratio })
  store.close()

  const table = markdownTable(['shortlist', 'stage', 'what runs', 'mean ms', 'p99 ms', 'floor', 'floor mean ms', 'stage / floor'], rows)
  const title = `${n.toLocaleString('en')} × ${dims} synthetic ${model} vectors, index ${indexDims} dims, hnswlib ${hnswlib.variant}; ${queryCount} queries (embed: ${embedCount} real SciFact queries)`
  process.stdout.write(`\n## ${title}\n\n${table}\n\nload average ${started.load.join(', ')} at the start, ${loadAverage().join(', ')} at the end; db ${(statSync(`${base}.profile.sqlite`).size / 2 ** 30).toFixed(2)} GiB\n`)
  const file = `${base}.profile-${Date.now()}.json`
  writeFileSync(file, JSON.stringify({ title, machine: machineInfo(), started, ended: { date: new Date().toISOString(), load: loadAverage() }, results }, null, 1))
  log(`wrote ${file}`)
}

await main()
