/**
 * LLM reranking quality over a first-stage run: each query's top N reranked by the llama.cpp
 * listwise or pointwise stage; nDCG@10 before and after on the same queries, and per-call timing.
 * Results stream to a JSONL file, one line per query, and a rerun resumes after the last line.
 *
 *   tsx bench/llm/rerank-llm-quality.ts --model models/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF \
 *     --mode listwise --dataset ../shared/datasets/trec-dl19 --run ../shared/datasets/trec-dl19/bm25-top100.run \
 *     --top 20 [--queries 43] [--split test] [--threads N] [--parallel 4] [--out FILE.jsonl]
 */
import { appendFile, readFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { ndcgAtK, reciprocalRankAtK } from '../../src/eval/metrics.js'
import { loadLlamaCppListwise, loadPointwiseLlm } from '../../src/rerank/llm/llama-cpp-rerankers.js'
import { parseFlags } from '../lib/args.js'
import { sharedDataset } from '../lib/paths.js'
import { median } from '../lib/stats.js'
import { loadRerankData } from './rerank-data.js'

interface QueryResult {
  id: string
  before: string[]
  after: string[]
  ms: number
  /** Per window (listwise) or per passage (pointwise). */
  callMs: number[]
  truncated: number
}

const flags = parseFlags(process.argv.slice(2))
const model = flags.get('model') ?? 'models/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF'
const mode = flags.get('mode') ?? 'listwise'
const dataset = flags.get('dataset') ?? sharedDataset('trec-dl19')
const runFile = flags.get('run') ?? path.join(dataset, 'bm25-top100.run')
const top = Number(flags.get('top') ?? 20)
const maxQueries = Number(flags.get('queries') ?? Infinity)
const out = flags.get('out') ?? `bench-results/${path.basename(model)}-${mode}-${path.basename(dataset)}-top${top}.jsonl`
if (mode !== 'listwise' && mode !== 'pointwise') throw new Error(`--mode must be listwise or pointwise, got '${mode}'`)

const { queries, qrels } = await loadRerankData(dataset, runFile, top, flags.get('split') ?? 'test')
const chosen = queries.slice(0, maxQueries)
await mkdir(path.dirname(out), { recursive: true })
const done = new Map<string, QueryResult>()
const previous = await readFile(out, 'utf8').catch(() => '')
for (const line of previous.split('\n').filter(Boolean)) {
  const r = JSON.parse(line) as QueryResult
  done.set(r.id, r)
}
const loadStarted = performance.now()
const threads = flags.has('threads') ? { threads: Number(flags.get('threads')) } : {}
const reranker =
  mode === 'listwise'
    ? await loadLlamaCppListwise({ model, windowSize: Math.min(20, top), stride: 10, ...threads })
    : await loadPointwiseLlm({ model, parallel: Number(flags.get('parallel') ?? 4), ...threads })
console.log(`${reranker.name}: loaded in ${Math.round(performance.now() - loadStarted)} ms; ${chosen.length} queries (${done.size} done), top ${top}`)
const began = performance.now()
let fresh = 0
for (const q of chosen) {
  if (done.has(q.id)) continue
  const started = performance.now()
  const outcome = await reranker.rank(q.text, q.candidates)
  const ms = performance.now() - started
  const callMs = outcome.windows?.map((w) => w.ms) ?? [ms / q.candidates.length]
  const result: QueryResult = { id: q.id, before: q.candidates.map((c) => c.id), after: outcome.candidates.map((c) => c.id), ms, callMs, truncated: outcome.truncatedPassages }
  await appendFile(out, JSON.stringify(result) + '\n')
  done.set(q.id, result)
  fresh++
  const eta = ((performance.now() - began) / fresh) * chosen.filter((c) => !done.has(c.id)).length
  const labels = qrels.get(q.id)!
  console.log(`${done.size}/${chosen.length} q${q.id} ${Math.round(ms)} ms nDCG@10 ${ndcgAtK(result.before, labels, 10).toFixed(3)} -> ${ndcgAtK(result.after, labels, 10).toFixed(3)}; ETA ${Math.round(eta / 1000)} s`)
}
await reranker.dispose()

const results = chosen.map((q) => done.get(q.id)!).filter(Boolean)
const mean = (f: (r: QueryResult) => number) => results.reduce((s, r) => s + f(r), 0) / results.length
console.log(`\n${mode} ${path.basename(model)} over ${results.length} queries of ${path.basename(dataset)}, top ${top} of ${path.basename(runFile)}`)
console.log(`nDCG@10  first stage ${mean((r) => ndcgAtK(r.before, qrels.get(r.id)!, 10)).toFixed(4)}  reranked ${mean((r) => ndcgAtK(r.after, qrels.get(r.id)!, 10)).toFixed(4)}`)
console.log(`MRR@10   first stage ${mean((r) => reciprocalRankAtK(r.before, qrels.get(r.id)!, 10)).toFixed(4)}  reranked ${mean((r) => reciprocalRankAtK(r.after, qrels.get(r.id)!, 10)).toFixed(4)}`)
const calls = results.flatMap((r) => r.callMs)
console.log(`per query median ${Math.round(median(results.map((r) => r.ms)))} ms; per ${mode === 'listwise' ? 'window' : 'passage'} median ${Math.round(median(calls))} ms (${calls.length} calls)`)
