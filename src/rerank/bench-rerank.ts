/**
 * Reranking benchmark: cross-encoder throughput and per-batch latency across batch sizes, and the
 * per-window latency of the listwise stage. Runs on the test fixture models, plus any real
 * cross-encoder or causal LM found under the models folder. With --peer (on by default), also runs
 * the same ONNX cross-encoder through transformers.js in this process, checks the logits agree, and
 * compares pairs/s in interleaved rounds.
 */
import { createReadStream, existsSync } from 'node:fs'
import { chmod, copyFile, cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fixtureModelDir } from '../../test/helpers/fixture-models.js'
import { summarizeLatencies } from '../eval/latency.js'
import { elapsedMs, type Candidate } from '../pipeline/candidate.js'
import { CrossEncoderReranker, relevanceLogits } from './cross-encoder.js'
import { createReranker } from './registry.js'

const USAGE = `usage: npm run bench:rerank -- [--dataset ../shared/datasets/scifact] [--pairs 256] [--repeats 3]
       [--batch-sizes 1,2,4,8,16,32,64] [--candidates 30] [--window 20] [--stride 10] [--passage-tokens 100]
       [--models-dir models] [--no-real] [--peer-only | --no-peer] [--peer-pairs 64] [--peer-rounds 5]
       [--peer-batch-sizes 1,8,32,64]

Cross-encoder pairs/s and p50/p95 per ONNX batch for each batch size; listwise per-window latency.
Fixture models always run; real models under --models-dir are found by their config.json
architectures (*ForSequenceClassification, *ForCausalLM with a chat template).
Peer: Funnel's CrossEncoderReranker vs transformers.js on the same ONNX file (fixture
tiny-cross-encoder plus any real cross-encoder): logit parity, then median pairs/s over
alternating rounds. --peer-only runs just that.
`

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

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
  const passages: string[] = []
  const lines = readline.createInterface({ input: createReadStream(corpus, 'utf8'), crlfDelay: Infinity })
  for await (const line of lines) {
    const doc = JSON.parse(line) as { title?: string; text?: string }
    passages.push(`${doc.title ?? ''}. ${doc.text ?? ''}`.trim())
    if (passages.length >= count) break
  }
  lines.close()
  const queryLine = (await readFile(path.join(datasetDir, 'queries.jsonl'), 'utf8')).split('\n')[0]!
  return { query: (JSON.parse(queryLine) as { text: string }).text, passages }
}

/** A loadable copy of a test fixture; the BERT fixtures borrow the shared bert-base-uncased tokenizer. */
async function fixtureDir(name: string, sharedDir: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `funnel-bench-${name}-`))
  const source = path.join(repoRoot, 'test/fixtures/models', name)
  await cp(source, dir, { recursive: true })
  if (!existsSync(path.join(source, 'tokenizer.json'))) {
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
      await copyFile(path.join(sharedDir, 'tokenizers/bert-base-uncased', file), path.join(dir, file))
      await chmod(path.join(dir, file), 0o644)
    }
  }
  return dir
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

async function benchCrossEncoder(label: string, modelDir: string, texts: Texts, batchSizes: number[], repeats: number): Promise<CrossEncoderRow[]> {
  const rows: CrossEncoderRow[] = []
  for (const batchSize of batchSizes) {
    const ce = await CrossEncoderReranker.load({ modelDir, batchSize })
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
}

interface PeerResult {
  rows: PeerRow[]
  model: string
  pairs: number
  maxLength: number
  /** Passages shortened (at a word boundary) so every pair fits maxLength without truncation. */
  clipped: number
  /** Max |Funnel - transformers.js| logit on the fitted pairs. */
  maxAbsDiff: number
  /** The same on the unclipped passages, where the two truncate differently (see note). */
  maxAbsDiffUntruncated: number
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
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
async function benchPeer(label: string, modelDir: string, texts: Texts, batchSizes: number[], rounds: number): Promise<PeerResult> {
  const { AutoTokenizer, AutoModelForSequenceClassification, env } = await import('@huggingface/transformers')
  env.allowRemoteModels = false
  env.allowLocalModels = true
  env.localModelPath = path.dirname(modelDir) + path.sep
  const name = path.basename(modelDir)
  const tokenizer = await AutoTokenizer.from_pretrained(name)
  const model = await AutoModelForSequenceClassification.from_pretrained(name, { dtype: 'fp32' })
  const funnel = new Map<number, CrossEncoderReranker>()
  for (const batchSize of new Set([...batchSizes, 32])) funnel.set(batchSize, await CrossEncoderReranker.load({ modelDir, batchSize }))
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

    const timings = new Map<string, number[]>()
    const time = async (key: string, run: () => Promise<unknown>) => {
      const began = performance.now()
      await run()
      const seconds = elapsedMs(began) / 1000
      timings.set(key, [...(timings.get(key) ?? []), passages.length / seconds])
    }
    for (const batchSize of batchSizes) {
      await funnel.get(batchSize)!.score(query, passages) // warm-up
      await peerScore(passages, batchSize)
    }
    for (let round = 0; round < rounds; round++) {
      for (const batchSize of batchSizes) {
        const runs: [string, () => Promise<unknown>][] = [
          [`funnel:${batchSize}`, () => funnel.get(batchSize)!.score(query, passages)],
          [`peer:${batchSize}`, () => peerScore(passages, batchSize)],
        ]
        if (round % 2) runs.reverse()
        for (const [key, run] of runs) await time(key, run)
      }
    }
    const rows = batchSizes.map((batch) => ({
      model: label,
      batch,
      funnelPairsPerS: Math.round(median(timings.get(`funnel:${batch}`)!)),
      peerPairsPerS: Math.round(median(timings.get(`peer:${batch}`)!)),
    }))
    return { rows, model: label, pairs: passages.length, maxLength, clipped, maxAbsDiff: diff, maxAbsDiffUntruncated: diffUntruncated }
  } finally {
    for (const ce of funnel.values()) await ce.dispose()
    await model.dispose()
  }
}

async function runPeer(texts: Texts, realCrossEncoders: string[], modelsDir: string, batchSizes: number[], rounds: number): Promise<void> {
  const cpuModel = os.cpus()[0]?.model ?? 'unknown'
  const loadavg = existsSync('/proc/loadavg') ? (await readFile('/proc/loadavg', 'utf8')).trim() : os.loadavg().join(' ')
  process.stdout.write(
    `\npeer: Funnel CrossEncoderReranker vs transformers.js, same ONNX file; ${os.availableParallelism()} CPUs (${cpuModel}), ` +
      `loadavg ${loadavg}, ${new Date().toISOString()}, ${rounds} alternating rounds, median\n`,
  )
  const models: [string, string][] = [['fixture:tiny-cross-encoder', await fixtureModelDir('tiny-cross-encoder')]]
  for (const dir of realCrossEncoders) models.push([path.relative(modelsDir, dir), dir])
  if (realCrossEncoders.length === 0) process.stdout.write(`no real cross-encoder (*ForSequenceClassification) under ${modelsDir}\n`)
  const rows: PeerRow[] = []
  for (const [label, dir] of models) {
    const result = await benchPeer(label, dir, texts, batchSizes, rounds)
    process.stdout.write(
      `${label}: ${result.pairs} pairs, max_length ${result.maxLength} (${result.clipped} passages shortened to fit); ` +
        `max |logit diff| ${result.maxAbsDiff.toExponential(2)} (untruncated passages: ${result.maxAbsDiffUntruncated.toExponential(2)})\n`,
    )
    rows.push(...result.rows)
  }
  printTable(
    'cross-encoder vs transformers.js (pairs/s end to end, median of rounds)',
    rows.map((r) => ({ model: r.model, batch: r.batch, 'funnel pairs/s': r.funnelPairsPerS, 'transformers.js pairs/s': r.peerPairsPerS, 'funnel/tjs': (r.funnelPairsPerS / r.peerPairsPerS).toFixed(2) })),
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
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string', default: path.resolve(repoRoot, '../shared/datasets/scifact') },
      'shared-dir': { type: 'string', default: path.resolve(repoRoot, '../shared') },
      'models-dir': { type: 'string', default: path.join(repoRoot, 'models') },
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
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  const repeats = Number(values.repeats)
  const batchSizes = values['batch-sizes'].split(',').map(Number)
  const texts = await loadTexts(path.resolve(values.dataset), Math.max(Number(values.pairs), Number(values.candidates), Number(values['peer-pairs'])))
  const pairTexts = { ...texts, passages: texts.passages.slice(0, Number(values.pairs)) }
  const listwise = { candidates: Number(values.candidates), window: Number(values.window), stride: Number(values.stride), passageTokens: Number(values['passage-tokens']) }
  const real = values['no-real'] ? { crossEncoders: [], causalLms: [] } : await findRealModels(path.resolve(values['models-dir']))
  const peerTexts = { ...texts, passages: texts.passages.slice(0, Number(values['peer-pairs'])) }
  const peer = () =>
    runPeer(peerTexts, real.crossEncoders, path.resolve(values['models-dir']), values['peer-batch-sizes'].split(',').map(Number), Number(values['peer-rounds']))
  if (values['peer-only']) return peer()
  process.stdout.write(`reranking benchmark: ${os.cpus().length} CPUs, node ${process.version}, ${pairTexts.passages.length} pairs x ${repeats} repeats\n`)

  const temp: string[] = []
  try {
    const crossEncoders: [string, string][] = []
    for (const name of ['tiny-cross-encoder', 'tiny-cross-encoder-2class']) {
      const dir = await fixtureDir(name, values['shared-dir'])
      temp.push(dir)
      crossEncoders.push([`fixture:${name}`, dir])
    }
    for (const dir of real.crossEncoders) crossEncoders.push([path.relative(path.resolve(values['models-dir']), dir), dir])
    const ceRows: CrossEncoderRow[] = []
    for (const [label, dir] of crossEncoders) ceRows.push(...(await benchCrossEncoder(label, dir, pairTexts, batchSizes, repeats)))
    printTable('cross-encoder (pairs/s end to end; tokenize ms per pair; p50/p95: ms per ONNX batch)', ceRows.map((r) => ({ model: r.model, batch: r.batch, 'pairs/s': r.pairsPerS, tok_ms_pair: r.tokenizeMsPerPair, p50_ms: r.p50, p95_ms: r.p95, batches: r.runs })))

    const lms: [string, string, typeof listwise & { repeats: number }][] = []
    for (const name of ['tiny-causal-lm', 'tiny-causal-lm-kv']) {
      const dir = await fixtureDir(name, values['shared-dir'])
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
