/**
 * Reranking benchmark: cross-encoder throughput and per-batch latency across batch sizes, and the
 * per-window latency of the listwise stage. Runs on the test fixture models, plus any real
 * cross-encoder or causal LM found under the models folder.
 */
import { createReadStream, existsSync } from 'node:fs'
import { chmod, copyFile, cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { summarizeLatencies } from '../eval/latency.js'
import { elapsedMs, type Candidate } from '../pipeline/candidate.js'
import { CrossEncoderReranker } from './cross-encoder.js'
import { createReranker } from './registry.js'

const USAGE = `usage: npm run bench:rerank -- [--dataset ../shared/datasets/scifact] [--pairs 256] [--repeats 3]
       [--batch-sizes 1,2,4,8,16,32,64] [--candidates 30] [--window 20] [--stride 10] [--passage-tokens 100]
       [--models-dir models] [--no-real]

Cross-encoder pairs/s and p50/p95 per ONNX batch for each batch size; listwise per-window latency.
Fixture models always run; real models under --models-dir are found by their config.json
architectures (*ForSequenceClassification, *ForCausalLM with a chat template).
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
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  const repeats = Number(values.repeats)
  const batchSizes = values['batch-sizes'].split(',').map(Number)
  const texts = await loadTexts(path.resolve(values.dataset), Math.max(Number(values.pairs), Number(values.candidates)))
  const pairTexts = { ...texts, passages: texts.passages.slice(0, Number(values.pairs)) }
  const listwise = { candidates: Number(values.candidates), window: Number(values.window), stride: Number(values.stride), passageTokens: Number(values['passage-tokens']) }
  const real = values['no-real'] ? { crossEncoders: [], causalLms: [] } : await findRealModels(path.resolve(values['models-dir']))
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
  } finally {
    await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })))
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:rerank failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
