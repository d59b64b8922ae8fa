/**
 * Reranking benchmark: cross-encoder throughput and per-batch latency across batch sizes, and the
 * per-window latency of the listwise stage. Runs on the test fixture models, plus any real
 * cross-encoder or causal LM found under the models folder (or the cross-encoder folders given with
 * --cross-encoder). With --peer (on by default), also runs the same ONNX cross-encoder through
 * transformers.js in this process, checks the logits agree, and compares pairs/s in interleaved
 * rounds against it and against the raw onnxruntime-node floor (session.run alone on pre-built tensors).
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { elapsedMs, type Candidate } from '../../src/candidate.js'
import { firstQueryAndPassages } from '../../src/eval/beir.js'
import { TextTokenizer, type TokenizedText } from '../../src/inference/tokenizer.js'
import { CrossEncoderReranker, relevanceLogits } from '../../src/rerank/cross-encoder.js'
import { findOnnxModel } from '../../src/rerank/model-files.js'
import { createReranker } from '../../src/rerank/registry.js'
import { fixtureModelDir } from '../../test/helpers/fixture-models.js'
import { numberList, parseCommand } from '../lib/args.js'
import { modelsDir } from '../lib/models.js'
import { OrtFloor, type OrtFeeds } from '../lib/ort-floor.js'
import { sharedDataset } from '../lib/paths.js'
import { median, paddingRatio, summarizeLatencies } from '../lib/stats.js'

const USAGE = `usage: npm run bench:rerank -- [--dataset ../shared/datasets/scifact] [--pairs 256] [--repeats 3]
       [--batch-sizes 1,2,4,8,16,32,64] [--candidates 30] [--window 20] [--stride 10] [--passage-tokens 100]
       [--models-dir models] [--no-real] [--cross-encoder DIR ...] [--threads 1] [--max-length N]
       [--peer-only | --no-peer] [--no-fixture-peer] [--peer-pairs 64] [--peer-rounds 5] [--peer-batch-sizes 1,8,32,64]

Cross-encoder pairs/s and p50/p95 per ONNX batch for each batch size; listwise per-window latency.
Fixture models always run; real models under --models-dir are found by their config.json
architectures (*ForSequenceClassification, *ForCausalLM with a chat template).
Peer: Funnel's CrossEncoderReranker vs transformers.js on the same ONNX file (fixture
tiny-cross-encoder plus any real cross-encoder): logit parity, then median pairs/s over
rounds in rotating order, next to the raw onnxruntime-node floor (the same length-sorted batches
Funnel builds, tokenised and packed before the clock starts; only session.run is timed).
--peer-only runs just that; --no-fixture-peer leaves the fixture out of it.
--cross-encoder DIR: a cross-encoder folder to bench (repeatable), instead of the ones found under
  --models-dir. --threads N: intra-op threads for every session (Funnel, transformers.js, raw);
  0 = onnxruntime's default. --max-length N: cap pairs at N tokens (default: what the model allows).
`

interface Texts {
  query: string
  passages: string[]
}

/** Passages (title + abstract) and the first query of a BEIR dataset; synthetic text without one. */
async function loadTexts(datasetDir: string, count: number): Promise<Texts> {
  const corpus = path.join(datasetDir, 'corpus.jsonl')
  if (!existsSync(corpus)) {
    const passages = Array.from({ length: count }, (_, i) => `Passage ${i}. ` + 'Rerankers reorder retrieved documents by relevance. '.repeat(1 + (i % 12)))
    return { query: 'how do rerankers order documents', passages }
  }
  return firstQueryAndPassages(datasetDir, count)
}

/** A --cross-encoder folder, resolved; refused unless its config.json names *ForSequenceClassification. */
async function checkCrossEncoderDir(dir: string): Promise<string> {
  const resolved = path.resolve(dir)
  const config = JSON.parse(await readFile(path.join(resolved, 'config.json'), 'utf8')) as { architectures?: string[] }
  if (!(config.architectures ?? []).some((a) => a.endsWith('ForSequenceClassification'))) {
    throw new Error(`--cross-encoder ${dir}: config.json architectures ${JSON.stringify(config.architectures)} name no *ForSequenceClassification`)
  }
  return resolved
}

/** Real models under models/<owner>/<name>, classified by the architectures in config.json. */
async function findRealModels(modelsDir: string): Promise<{ crossEncoders: string[]; causalLms: string[] }> {
  const found = { crossEncoders: [] as string[], causalLms: [] as string[] }
  const owners = existsSync(modelsDir) ? await readdir(modelsDir, { withFileTypes: true }) : []
  for (const owner of owners.filter((d) => d.isDirectory() && !d.name.startsWith('.'))) {
    for (const model of await readdir(path.join(modelsDir, owner.name), { withFileTypes: true })) {
      const dir = path.join(modelsDir, owner.name, model.name)
      if (!model.isDirectory() || !existsSync(path.join(dir, 'config.json'))) continue
      const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as { architectures?: string[] }
      const architecture = config.architectures?.[0] ?? ''
      if (architecture.endsWith('ForSequenceClassification')) found.crossEncoders.push(dir)
      else if (architecture.endsWith('ForCausalLM')) found.causalLms.push(dir)
    }
  }
  return found
}

interface CrossEncoderRow {
  model: string
  batch: number
  pairsPerS: number
  tokenizeMsPerPair: number
  p50: number
  p95: number
  runs: number
}

interface SessionKnobs {
  /** Intra-op threads for every session; 0 = onnxruntime's default. */
  threads: number
  maxLength?: number
}

const ceOptions = (knobs: SessionKnobs) => ({
  ...(knobs.threads > 0 && { intraOpThreads: knobs.threads }),
  ...(knobs.maxLength !== undefined && { maxLength: knobs.maxLength }),
})

async function benchCrossEncoder(label: string, modelDir: string, texts: Texts, batchSizes: number[], repeats: number, knobs: SessionKnobs): Promise<CrossEncoderRow[]> {
  const rows: CrossEncoderRow[] = []
  for (const batchSize of batchSizes) {
    const ce = await CrossEncoderReranker.load({ modelDir, batchSize, ...ceOptions(knobs) })
    try {
      await ce.score(texts.query, texts.passages.slice(0, batchSize)) // warm-up: first-run allocations
      const batchMs: number[] = []
      let pairs = 0
      let tokenizeMs = 0
      const began = performance.now()
      for (let r = 0; r < repeats; r++) {
        const result = await ce.score(texts.query, texts.passages)
        batchMs.push(...result.batchMs)
        tokenizeMs += result.tokenizeMs
        pairs += texts.passages.length
      }
      const seconds = elapsedMs(began) / 1000
      const summary = summarizeLatencies(batchMs)
      rows.push({ model: label, batch: batchSize, pairsPerS: Math.round(pairs / seconds), tokenizeMsPerPair: Math.round((tokenizeMs / pairs) * 100) / 100, p50: summary.p50, p95: summary.p95, runs: batchMs.length })
    } finally {
      await ce.dispose()
    }
  }
  return rows
}

interface ListwiseRow {
  model: string
  candidates: number
  windows: number
  p50: number
  p95: number
  truncated: number
}

async function benchListwise(
  label: string,
  modelDir: string,
  texts: Texts,
  options: { candidates: number; window: number; stride: number; passageTokens: number; repeats: number },
): Promise<ListwiseRow> {
  const reranker = await createReranker('listwise-onnx', {
    modelDir,
    windowSize: options.window,
    stride: options.stride,
    prompt: { maxPassageTokens: options.passageTokens },
  })
  try {
    const candidates: Candidate[] = texts.passages.slice(0, options.candidates).map((text, i) => ({ id: `d${i}`, text, score: 0, scores: {} }))
    await reranker.rank(texts.query, candidates.slice(0, 2)) // warm-up on a short prompt
    const windowMs: number[] = []
    let truncated = 0
    for (let r = 0; r < options.repeats; r++) {
      const outcome = await reranker.rank(texts.query, candidates)
      windowMs.push(...(outcome.windows ?? []).map((w) => w.ms))
      truncated = outcome.truncatedPassages
    }
    const summary = summarizeLatencies(windowMs)
    return { model: label, candidates: candidates.length, windows: windowMs.length / options.repeats, p50: summary.p50, p95: summary.p95, truncated }
  } finally {
    await reranker.dispose()
  }
}

interface PeerRow {
  model: string
  batch: number
  funnelPairsPerS: number
  peerPairsPerS: number
  rawPairsPerS: number
  /** [min, max] pairs/s over the rounds. */
  funnelRange: [number, number]
  peerRange: [number, number]
  rawRange: [number, number]
  /** Padded tokens / real tokens: Funnel's (and the floor's) length-sorted batches, transformers.js' input-order ones. */
  funnelPadding: number
  peerPadding: number
  /** Median process CPU seconds per wall second while timed, funnel/tjs/raw. */
  cpuPerWall: string
}

interface PeerResult {
  rows: PeerRow[]
  model: string
  pairs: number
  /** Real tokens per pair (query + passage + specials): mean, min, max. */
  tokens: { mean: number; min: number; max: number }
  maxLength: number
  /** Passages shortened (at a word boundary) so every pair fits maxLength without truncation. */
  clipped: number
  /** Max |Funnel - transformers.js| logit on the fitted pairs. */
  maxAbsDiff: number
  /** The same on the unclipped passages, where the two truncate differently (see note). */
  maxAbsDiffUntruncated: number
}

/**
 * The floor's input: the pairs Funnel builds (tokenised by the same tokenizer and truncation, sorted by
 * length), so session.run sees the same batches Funnel runs.
 */
async function floorPairs(modelDir: string, query: string, passages: readonly string[], maxLength: number): Promise<TokenizedText[]> {
  const tokenizer = await TextTokenizer.fromDirectory(modelDir)
  return passages.map((p) => tokenizer.encodePair(query, p, maxLength)).sort((a, b) => a.ids.length - b.ids.length)
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
  return worst
}

/**
 * Funnel's cross-encoder against transformers.js on the same ONNX file, in this process. transformers.js
 * truncates a pair by cutting its tail (dropping the final [SEP]) where Funnel truncates only the
 * passage, so passages are first shortened to fit maxLength: both then see identical token ids, and
 * the logits must agree. Throughput is end to end (tokenise + run) over all pairs, with the order of
 * the two alternating each round; the median round is reported.
 */
async function benchPeer(label: string, modelDir: string, texts: Texts, batchSizes: number[], rounds: number, knobs: SessionKnobs): Promise<PeerResult> {
  const { AutoTokenizer, AutoModelForSequenceClassification, env } = await import('@huggingface/transformers')
  env.allowRemoteModels = false
  env.allowLocalModels = true
  env.localModelPath = path.dirname(modelDir) + path.sep
  const name = path.basename(modelDir)
  const tokenizer = await AutoTokenizer.from_pretrained(name)
  const sessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' as const, ...(knobs.threads > 0 && { intraOpNumThreads: knobs.threads }) }
  const model = await AutoModelForSequenceClassification.from_pretrained(name, { dtype: 'fp32', device: 'cpu', session_options: sessionOptions })
  const funnel = new Map<number, CrossEncoderReranker>()
  for (const batchSize of new Set([...batchSizes, 32])) funnel.set(batchSize, await CrossEncoderReranker.load({ modelDir, batchSize, ...ceOptions(knobs) }))
  const maxLength = funnel.get(32)!.maxLength
  const { query } = texts

  const peerScore = async (passages: readonly string[], batchSize: number): Promise<Float32Array> => {
    const scores = new Float32Array(passages.length)
    for (let from = 0; from < passages.length; from += batchSize) {
      const slice = passages.slice(from, from + batchSize)
      const inputs = tokenizer(new Array<string>(slice.length).fill(query), { text_pair: slice, padding: true, truncation: true, max_length: maxLength })
      const { logits } = (await model(inputs)) as { logits: { data: Float32Array; dims: number[] } }
      scores.set(relevanceLogits(logits.data, logits.dims, slice.length), from)
    }
    return scores
  }

  let raw: OrtFloor | undefined
  try {
    let clipped = 0
    const passages = texts.passages.map((passage) => {
      let words = passage.split(/\s+/)
      const fits = () => tokenizer.encode(query, { text_pair: words.join(' ') }).length <= maxLength
      if (fits()) return passage
      clipped++
      while (!fits()) words = words.slice(0, Math.max(1, Math.floor(words.length * 0.9)))
      return words.join(' ')
    })
    const reference = await funnel.get(32)!.score(query, passages)
    if (reference.truncatedPassages > 0) throw new Error(`${reference.truncatedPassages} fitted pairs still truncated by Funnel`)
    const diff = maxAbsDiff(reference.scores, await peerScore(passages, 32))
    const diffUntruncated = maxAbsDiff((await funnel.get(32)!.score(query, texts.passages)).scores, await peerScore(texts.passages, 32))
    if (!(diff < 1e-3)) throw new Error(`${label}: Funnel and transformers.js logits differ by ${diff} (want < 1e-3)`)
    // The floor runs the ONNX file with the session options Funnel's OnnxSession sets (spinning off).
    raw = await OrtFloor.open(await findOnnxModel(modelDir), { threads: knobs.threads, allowSpinning: false })
    const pairs = await floorPairs(modelDir, query, passages, maxLength)
    const rawFeeds = new Map<number, OrtFeeds[]>(batchSizes.map((batchSize) => [batchSize, raw!.feeds(pairs, batchSize)]))
    const rawLengths = pairs.map((p) => p.ids.length)
    const inputOrderLengths = passages.map((p) => tokenizer.encode(query, { text_pair: p }).length)

    const timings = new Map<string, number[]>()
    // Process CPU time over wall time per timed call: ~1 when one intra-op thread does the work.
    const cpuRatios = new Map<string, number[]>()
    const push = (map: Map<string, number[]>, key: string, value: number) => map.set(key, [...(map.get(key) ?? []), value])
    const time = async (key: string, run: () => Promise<unknown>) => {
      const cpu = process.cpuUsage()
      const began = performance.now()
      await run()
      const seconds = elapsedMs(began) / 1000
      const used = process.cpuUsage(cpu)
      push(timings, key, passages.length / seconds)
      push(cpuRatios, key, (used.user + used.system) / 1e6 / seconds)
    }
    const timeRaw = async (key: string, batchSize: number) => {
      const cpu = process.cpuUsage()
      const began = performance.now()
      await raw!.time(rawFeeds.get(batchSize)!)
      const seconds = elapsedMs(began) / 1000
      const used = process.cpuUsage(cpu)
      push(timings, key, passages.length / seconds)
      push(cpuRatios, key, (used.user + used.system) / 1e6 / seconds)
    }
    // Warm-up: one batch each (first-run allocations); a real model makes a full pass slow.
    for (const batchSize of batchSizes) {
      await funnel.get(batchSize)!.score(query, passages.slice(0, batchSize))
      await peerScore(passages.slice(0, batchSize), batchSize)
      await raw.time(rawFeeds.get(batchSize)!.slice(0, 1))
    }
    for (let round = 0; round < rounds; round++) {
      for (const batchSize of batchSizes) {
        const runs: [string, () => Promise<unknown>][] = [
          [`funnel:${batchSize}`, () => time(`funnel:${batchSize}`, () => funnel.get(batchSize)!.score(query, passages))],
          [`peer:${batchSize}`, () => time(`peer:${batchSize}`, () => peerScore(passages, batchSize))],
          [`raw:${batchSize}`, () => timeRaw(`raw:${batchSize}`, batchSize)],
        ]
        // Rotate who goes first each round so drifting machine load does not favour one of them.
        for (let i = 0; i < runs.length; i++) await runs[(i + round) % runs.length]![1]()
      }
    }
    // Whole numbers, but one decimal below 100 pairs/s (a real model on one thread runs a few pairs/s).
    const tidy = (x: number) => (x >= 100 ? Math.round(x) : Math.round(x * 10) / 10)
    const med = (key: string) => tidy(median(timings.get(key)!))
    const range = (key: string): [number, number] => [tidy(Math.min(...timings.get(key)!)), tidy(Math.max(...timings.get(key)!))]
    const rows = batchSizes.map((batch) => ({
      model: label,
      batch,
      funnelPairsPerS: med(`funnel:${batch}`),
      peerPairsPerS: med(`peer:${batch}`),
      rawPairsPerS: med(`raw:${batch}`),
      funnelRange: range(`funnel:${batch}`),
      peerRange: range(`peer:${batch}`),
      rawRange: range(`raw:${batch}`),
      funnelPadding: paddingRatio(rawLengths, batch),
      peerPadding: paddingRatio(inputOrderLengths, batch),
      cpuPerWall: (['funnel', 'peer', 'raw'] as const).map((who) => median(cpuRatios.get(`${who}:${batch}`)!).toFixed(2)).join('/'),
    }))
    const tokens = { mean: Math.round(rawLengths.reduce((a, b) => a + b, 0) / rawLengths.length), min: Math.min(...rawLengths), max: Math.max(...rawLengths) }
    return { rows, model: label, pairs: passages.length, tokens, maxLength, clipped, maxAbsDiff: diff, maxAbsDiffUntruncated: diffUntruncated }
  } finally {
    for (const ce of funnel.values()) await ce.dispose()
    await model.dispose()
    await raw?.release()
  }
}

async function runPeer(
  texts: Texts,
  realCrossEncoders: string[],
  modelsDir: string,
  batchSizes: number[],
  rounds: number,
  knobs: SessionKnobs & { fixture: boolean },
): Promise<void> {
  const cpuModel = os.cpus()[0]?.model ?? 'unknown'
  const loadavg = existsSync('/proc/loadavg') ? (await readFile('/proc/loadavg', 'utf8')).trim() : os.loadavg().join(' ')
  process.stdout.write(
    `\npeer: Funnel CrossEncoderReranker vs transformers.js, same ONNX file; ${os.availableParallelism()} CPUs (${cpuModel}), ` +
      `loadavg ${loadavg}, ${new Date().toISOString()}, ${rounds} rounds in rotating order, median; ` +
      `intra-op threads ${knobs.threads === 0 ? "onnxruntime's default" : knobs.threads}, node ${process.version}\n`,
  )
  const models: [string, string][] = knobs.fixture ? [['fixture:tiny-cross-encoder', await fixtureModelDir('tiny-cross-encoder')]] : []
  for (const dir of realCrossEncoders) models.push([path.relative(modelsDir, dir), dir])
  if (realCrossEncoders.length === 0) process.stdout.write(`no real cross-encoder (*ForSequenceClassification) under ${modelsDir}\n`)
  const rows: PeerRow[] = []
  for (const [label, dir] of models) {
    const result = await benchPeer(label, dir, texts, batchSizes, rounds, knobs)
    process.stdout.write(
      `${label}: ${result.pairs} pairs, max_length ${result.maxLength} (${result.clipped} passages shortened to fit); ` +
        `tokens per pair mean ${result.tokens.mean}, min ${result.tokens.min}, max ${result.tokens.max}; ` +
        `max |logit diff| ${result.maxAbsDiff.toExponential(2)} (untruncated passages: ${result.maxAbsDiffUntruncated.toExponential(2)})\n`,
    )
    rows.push(...result.rows)
  }
  const pairs = texts.passages.length
  const span = (r: [number, number]) => `${r[0]}-${r[1]}`
  printTable(
    `cross-encoder vs transformers.js vs raw onnxruntime-node (pairs/s, median of rounds; Funnel and transformers.js end to end, raw = session.run only; ms/${pairs}: one call over all ${pairs} pairs at the median)`,
    rows.map((r) => ({
      model: r.model,
      batch: r.batch,
      'funnel pairs/s': r.funnelPairsPerS,
      'tjs pairs/s': r.peerPairsPerS,
      'raw ORT pairs/s': r.rawPairsPerS,
      'funnel/tjs': (r.funnelPairsPerS / r.peerPairsPerS).toFixed(2),
      'raw/funnel': (r.rawPairsPerS / r.funnelPairsPerS).toFixed(2),
      [`funnel ms/${pairs}`]: Math.round((1000 * pairs) / r.funnelPairsPerS),
      [`tjs ms/${pairs}`]: Math.round((1000 * pairs) / r.peerPairsPerS),
      'funnel range': span(r.funnelRange),
      'tjs range': span(r.peerRange),
      'raw range': span(r.rawRange),
      'pad funnel': r.funnelPadding.toFixed(2),
      'pad tjs': r.peerPadding.toFixed(2),
      'cpu/wall f/t/r': r.cpuPerWall,
    })),
  )
}

function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  if (rows.length === 0) return
  const columns = Object.keys(rows[0]!)
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padStart(widths[i]!)).join(' | ')} |`
  process.stdout.write(`\n${title}\n${line(columns)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`)
  for (const row of rows) process.stdout.write(line(columns.map((c) => String(row[c]))) + '\n')
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    dataset: { type: 'string', default: sharedDataset('scifact') },
    'models-dir': { type: 'string', default: modelsDir },
    pairs: { type: 'string', default: '256' },
    repeats: { type: 'string', default: '3' },
    'batch-sizes': { type: 'string', default: '1,2,4,8,16,32,64' },
    candidates: { type: 'string', default: '30' },
    window: { type: 'string', default: '20' },
    stride: { type: 'string', default: '10' },
    'passage-tokens': { type: 'string', default: '100' },
    'no-real': { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
    'no-peer': { type: 'boolean', default: false },
    'peer-pairs': { type: 'string', default: '64' },
    'peer-rounds': { type: 'string', default: '5' },
    'peer-batch-sizes': { type: 'string', default: '1,8,32,64' },
    'cross-encoder': { type: 'string', multiple: true },
    'no-fixture-peer': { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    'max-length': { type: 'string' },
  })
  const repeats = Number(values.repeats)
  const batchSizes = numberList('batch-sizes', values['batch-sizes'])
  const texts = await loadTexts(path.resolve(values.dataset), Math.max(Number(values.pairs), Number(values.candidates), Number(values['peer-pairs'])))
  const pairTexts = { ...texts, passages: texts.passages.slice(0, Number(values.pairs)) }
  const listwise = { candidates: Number(values.candidates), window: Number(values.window), stride: Number(values.stride), passageTokens: Number(values['passage-tokens']) }
  const real = values['no-real'] ? { crossEncoders: [], causalLms: [] } : await findRealModels(path.resolve(values['models-dir']))
  if (values['cross-encoder'] !== undefined) real.crossEncoders = await Promise.all(values['cross-encoder'].map(checkCrossEncoderDir))
  const threads = Number(values.threads)
  if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`--threads must be a non-negative integer, got ${values.threads}`)
  const knobs: SessionKnobs = { threads, ...(values['max-length'] !== undefined && { maxLength: Number(values['max-length']) }) }
  const peerTexts = { ...texts, passages: texts.passages.slice(0, Number(values['peer-pairs'])) }
  const peer = () =>
    runPeer(peerTexts, real.crossEncoders, path.resolve(values['models-dir']), numberList('peer-batch-sizes', values['peer-batch-sizes']), Number(values['peer-rounds']), {
      ...knobs,
      fixture: !values['no-fixture-peer'],
    })
  if (values['peer-only']) return peer()
  process.stdout.write(`reranking benchmark: ${os.cpus().length} CPUs, node ${process.version}, ${pairTexts.passages.length} pairs x ${repeats} repeats\n`)

  const temp: string[] = []
  try {
    const crossEncoders: [string, string][] = []
    for (const name of ['tiny-cross-encoder', 'tiny-cross-encoder-2class']) {
      const dir = await fixtureModelDir(name)
      temp.push(dir)
      crossEncoders.push([`fixture:${name}`, dir])
    }
    for (const dir of real.crossEncoders) crossEncoders.push([path.relative(path.resolve(values['models-dir']), dir), dir])
    const ceRows: CrossEncoderRow[] = []
    for (const [label, dir] of crossEncoders) ceRows.push(...(await benchCrossEncoder(label, dir, pairTexts, batchSizes, repeats, knobs)))
    printTable('cross-encoder (pairs/s end to end; tokenize ms per pair; p50/p95: ms per ONNX batch)', ceRows.map((r) => ({ model: r.model, batch: r.batch, 'pairs/s': r.pairsPerS, tok_ms_pair: r.tokenizeMsPerPair, p50_ms: r.p50, p95_ms: r.p95, batches: r.runs })))

    const lms: [string, string, typeof listwise & { repeats: number }][] = []
    for (const name of ['tiny-causal-lm', 'tiny-causal-lm-kv']) {
      const dir = await fixtureModelDir(name)
      temp.push(dir)
      lms.push([`fixture:${name}`, dir, { ...listwise, repeats }])
    }
    // A real LM window takes seconds on CPU: one window, once, is enough to see its latency.
    for (const dir of real.causalLms) {
      lms.push([path.relative(path.resolve(values['models-dir']), dir), dir, { ...listwise, candidates: listwise.window, repeats: 1 }])
    }
    const lwRows: ListwiseRow[] = []
    for (const [label, dir, options] of lms) lwRows.push(await benchListwise(label, dir, texts, options))
    printTable(
      `listwise (window ${listwise.window}, stride ${listwise.stride}, passages <= ${listwise.passageTokens} tokens; p50/p95: ms per window)`,
      lwRows.map((r) => ({ model: r.model, candidates: r.candidates, windows: r.windows, p50_ms: r.p50, p95_ms: r.p95, truncated: r.truncated })),
    )
    if (!values['no-peer']) await peer()
  } finally {
    await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })))
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:rerank failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
