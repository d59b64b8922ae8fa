/**
 * Calibration of a rerank stage's raw scores (cross-encoder logits, embedding-stage cosines, pointwise
 * LLM yes-log-odds, listwise window log-odds with the final rank): fitted (Funnel's fitCalibrator, which picks among the methods that qualify by
 * 5-fold CV) on (query, candidate) pairs of one BEIR split, measured (ECE over 15 bins, Brier,
 * log-loss) before (the score as the API reads it uncalibrated: sigmoid of a logit, (cos + 1) / 2)
 * and after, on other sets. The stage is loaded through the same RerankerPool the search API uses,
 * so any id `rerank.stages` accepts works. Candidates come from TREC run files
 * (bench/rerank/scifact-bm25-runs.py writes SciFact ones); unjudged candidates count as not relevant.
 */
import path from 'node:path'
import { applyCalibrator, fitCalibrator, type CalibrationExample, type RawScale } from '../../src/calibration/fit.js'
import { calibrationSummary } from '../../src/calibration/metrics.js'
import { loadConfig } from '../../src/config.js'
import { documentText, loadQrels, loadQueries, readCorpus } from '../../src/eval/beir.js'
import { rankEntries } from '../../src/eval/metrics.js'
import { createProgress } from '../../scripts/lib/progress.js'
import { readTrecRun } from '../../src/eval/trec-run.js'
import { relevanceScores } from '../../src/rerank/relevance.js'
import type { Reranker } from '../../src/rerank/reranker.js'
import { exitWithUsage, parseCommand, positiveInt } from '../lib/args.js'
import { benchRerankerPool } from '../lib/rerankers.js'
import { resultPath, writeResult } from '../lib/paths.js'
import { machineInfo } from '../lib/report.js'

const USAGE = `usage: tsx bench/rerank/calibrate-reranker.ts --model ID --fit DATASET:SPLIT:RUNFILE
       --eval DATASET:SPLIT:RUNFILE[:THRESHOLD] ... [--depth 10] [--out FILE]

Fits a calibrator to the rerank stage's raw scores on the --fit pairs (the top --depth run candidates
of each judged query) and prints ECE and Brier before (the API's uncalibrated reading) and after, on
them (out of fold) and on each --eval set. ID is any reranker id (a cross-encoder, an embedder used
as an embedding stage, pointwise:GGUF).
`

interface LabelledSet {
  name: string
  examples: CalibrationExample[]
  /** The scores as the API reads them without a calibrator, one per example. */
  uncalibrated: number[]
}

/** Scores each query's top `depth` run candidates with the stage, labelled by the qrels (label >= threshold). */
async function labelledScores(reranker: Reranker, spec: string, depth: number): Promise<LabelledSet> {
  const [dataset, split, runFile, threshold = '1'] = spec.split(':') as [string, string, string, string?]
  const [qrels, queries, run] = await Promise.all([loadQrels(dataset, split), loadQueries(dataset), readTrecRun(runFile)])
  const wanted = new Map<string, string[]>()
  for (const [qid, scores] of run) if (qrels.has(qid)) wanted.set(qid, rankEntries(scores).slice(0, depth).map(([id]) => id))
  const need = new Set([...wanted.values()].flat())
  const passages = new Map<string, string>()
  for await (const doc of readCorpus(dataset)) if (need.has(doc.id)) passages.set(doc.id, documentText(doc))
  const examples: CalibrationExample[] = []
  const uncalibrated: number[] = []
  const progress = createProgress({ label: `scoring ${path.basename(dataset)}/${split}`, total: wanted.size })
  for (const [qid, ids] of wanted) {
    const present = ids.filter((id) => passages.has(id))
    const candidates = present.map((id, i) => ({ id, text: passages.get(id)!, score: -i, scores: {} }))
    const { candidates: ranked } = await reranker.rank(queries.get(qid)!.text, candidates)
    const read = relevanceScores(ranked, { model: reranker.name, scoreKey: reranker.scoreKey })
    ranked.forEach((c, i) => {
      const label = (qrels.get(qid)!.get(c.id) ?? 0) >= Number(threshold) ? 1 : 0
      // A listwise stage's window log-odds are read with the final rank (the 'listwise' method, the 'rank' baseline).
      examples.push({ score: c.scores[reranker.scoreKey] ?? c.score, label, ...(reranker.scoreKey === 'listwise' && { rank: i + 1 }) })
      uncalibrated.push(read.scores[i]!)
    })
    progress.tick()
  }
  progress.done()
  return { name: `${path.basename(dataset)}/${split} (${wanted.size} queries, top ${depth}, relevant = label >= ${threshold})`, examples, uncalibrated }
}

/** How the stage's raw scores read as probabilities before calibration (as the calibration API reads them). */
function rawScaleOf(reranker: Reranker): RawScale | undefined {
  switch (reranker.scoreKey) {
    case 'cross_encoder':
      return 'logit'
    case 'embedding':
      return 'cosine'
    case 'listwise':
      return 'rank'
    default:
      return undefined
  }
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    model: { type: 'string' },
    fit: { type: 'string' },
    eval: { type: 'string', multiple: true, default: [] },
    depth: { type: 'string', default: '10' },
    out: { type: 'string' },
  })
  if (values.model === undefined || values.fit === undefined) exitWithUsage(USAGE)
  const config = loadConfig(process.env, { logLevel: 'warn' })
  const pool = benchRerankerPool(config)
  const depth = positiveInt('depth', values.depth)
  try {
    const reranker = await pool.get(values.model)
    const rawScale = rawScaleOf(reranker)
    const fitSet = await labelledScores(reranker, values.fit, depth)
    const fit = fitCalibrator(fitSet.examples, {
      ...(rawScale !== undefined && { rawScale }),
      ...(reranker.scoreKey === 'listwise' && { methods: ['platt', 'listwise', 'isotonic'] as const }),
    })
    process.stdout.write(`fit: ${fit.reason}\n`)
    const rows = [{ set: `${fitSet.name}, out-of-fold`, n: fit.n, positives: fit.positives, before: fit.heldOut.before, after: fit.heldOut.after }]
    for (const spec of values.eval) {
      const set = await labelledScores(reranker, spec, depth)
      const labels = set.examples.map((e) => e.label)
      rows.push({
        set: set.name,
        n: labels.length,
        positives: labels.reduce<number>((s, y) => s + y, 0),
        before: calibrationSummary(set.uncalibrated, labels),
        after: calibrationSummary(set.examples.map((e) => applyCalibrator(fit.calibrator, e.score, e)), labels),
      })
    }
    const result = { model: values.model, score_key: reranker.scoreKey, method: fit.method, params: fit.params, rows, machine: machineInfo(), date: new Date().toISOString() }
    const out = await writeResult(resultPath('calibrate-reranker', values.out), result)
    process.stdout.write(`${values.model} (${reranker.scoreKey}): calibrator ${fit.method} ${JSON.stringify(fit.params)}\n`)
    for (const r of rows) {
      const f = (s: { ece: number; brier: number }) => `ECE ${s.ece.toFixed(4)} Brier ${s.brier.toFixed(4)}`
      // The base rate's Brier, p(1 - p), is what a calibrator that learned only the positive rate scores.
      const rate = r.positives / r.n
      process.stdout.write(`${r.set}: n ${r.n} (${r.positives} relevant)  before ${f(r.before)}  after ${f(r.after)}  base-rate Brier ${(rate * (1 - rate)).toFixed(4)}\n`)
    }
    process.stdout.write(`result ${out}\n`)
  } finally {
    await pool.close()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`calibrate-reranker failed: ${(error as Error).message}\n`)
  process.exit(1)
})
