/**
 * Reciprocal rank fusion of finished stage runs, every combination of two or more, scored as
 * `npm run eval` scores a cascade. Each run file is one stage's ranking of the same candidates (the
 * `--run-file` of `npm run eval -- --first-stage ... --rerank MODEL:N`), so fusing runs A and B here
 * gives the order of the cascade `A:N,B:N:rrf` without running the models again: a cheap way to
 * choose which stages to fuse on a selection set (here qa-pairs dev) before measuring the chosen
 * cascade once on the benchmark.
 */
import path from 'node:path'
import type { Candidate } from '../../src/candidate.js'
import { loadQrels } from '../../src/eval/beir.js'
import { evaluateRun, rankEntries } from '../../src/eval/metrics.js'
import { readTrecRun } from '../../src/eval/trec-run.js'
import { fuseStage, startChain } from '../../src/rerank/stage-fusion.js'
import { exitWithUsage, parseCommand } from '../lib/args.js'

const USAGE = `usage: tsx bench/rerank/fuse-runs.ts --dataset DIR [--split test] --run NAME=FILE --run NAME=FILE ...

Prints nDCG@10 and MRR@10 of each run and of the RRF (k 60) of every combination of two or more,
best first, fused in the order given (the first named run plays the unfused stage).`

const values = parseCommand(USAGE, { dataset: { type: 'string' }, split: { type: 'string', default: 'test' }, run: { type: 'string', multiple: true } })
if (values.dataset === undefined || values.run === undefined || values.run.length < 2) exitWithUsage(USAGE)
const qrels = await loadQrels(path.resolve(values.dataset!), values.split)
const runs = await Promise.all(
  values.run!.map(async (spec) => {
    const at = spec.indexOf('=')
    return { name: spec.slice(0, at), run: await readTrecRun(spec.slice(at + 1)) }
  }),
)

/** A query's run as candidates best first (only ids matter to fusion). */
const ranked = (run: Map<string, Map<string, number>>, qid: string): Candidate[] =>
  rankEntries(run.get(qid) ?? new Map()).map(([id, score]) => ({ id, text: '', score, scores: {} }))

function fuse(members: typeof runs): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>()
  for (const qid of members[0]!.run.keys()) {
    let chain = startChain(ranked(members[0]!.run, qid))
    let order: Candidate[] = []
    for (const member of members.slice(1)) ({ order, sums: chain } = fuseStage(chain, ranked(member.run, qid)))
    out.set(qid, new Map(order.map((c, i) => [c.id, order.length - i])))
  }
  return out
}

const rows: { name: string; ndcg: number; mrr: number }[] = []
const score = (name: string, run: Map<string, Map<string, number>>) => {
  const { mean } = evaluateRun(run, new Map([...qrels].filter(([qid]) => run.has(qid))), { ndcgAt: [10], mrrAt: [10], recallAt: [] })
  rows.push({ name, ndcg: mean['ndcg@10']!, mrr: mean['mrr@10']! })
}
for (const { name, run } of runs) score(name, run)
for (let mask = 1; mask < 1 << runs.length; mask++) {
  const members = runs.filter((_, i) => (mask >> i) & 1)
  if (members.length >= 2) score(`rrf(${members.map((m) => m.name).join(' + ')})`, fuse(members))
}
rows.sort((a, b) => b.ndcg - a.ndcg)
console.log('| runs | nDCG@10 | MRR@10 |\n|---|---:|---:|')
for (const r of rows) console.log(`| ${r.name} | ${r.ndcg.toFixed(4)} | ${r.mrr.toFixed(4)} |`)
