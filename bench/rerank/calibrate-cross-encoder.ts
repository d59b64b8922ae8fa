/**
 * Calibration of a cross-encoder's raw logits: fitted (Funnel's fitCalibrator, which picks among the methods that
 * qualify by 5-fold CV) on (query, BM25 candidate) pairs of one BEIR split, measured (ECE over 15 bins, Brier,
 * log-loss) before (sigmoid of the logit) and after on other sets. Candidates come from TREC run files
 * (bench/rerank/scifact-bm25-runs.py writes SciFact ones); unjudged candidates count as not relevant.
 */
import path from 'node:path'
import { applyCalibrator, fitCalibrator, type CalibrationExample } from '../../src/calibration/fit.js'
import { calibrationSummary } from '../../src/calibration/metrics.js'
import { sigmoid } from '../../src/calibration/platt.js'
import { loadConfig } from '../../src/config.js'
import { documentText, loadQrels, loadQueries, readCorpus } from '../../src/eval/beir.js'
import { rankEntries } from '../../src/eval/metrics.js'
import { createProgress } from '../../scripts/lib/progress.js'
import { readTrecRun } from '../../src/eval/trec-run.js'
import { CrossEncoderReranker } from '../../src/rerank/cross-encoder.js'
import { modelDirectory } from '../../src/models/manifest.js'
import { exitWithUsage, parseCommand, positiveInt } from '../lib/args.js'
import { resultPath, writeResult } from '../lib/paths.js'
import { machineInfo } from '../lib/report.js'

const USAGE = `usage: tsx bench/rerank/calibrate-cross-encoder.ts --model ID --fit DATASET:SPLIT:RUNFILE
       --eval DATASET:SPLIT:RUNFILE[:THRESHOLD] ... [--depth 10] [--out FILE]

Fits a calibrator to the cross-encoder's logits on the --fit pairs (the top --depth run candidates of
each judged query) and prints ECE and Brier before (sigmoid) and after on them (out of fold) and on
each --eval set.
`

interface LabelledSet {
  name: string
  examples: CalibrationExample[]
}

/** Scores each query's top `depth` run candidates with the cross-encoder, labelled by the qrels (label >= threshold). */
async function labelledLogits(ce: CrossEncoderReranker, spec: string, depth: number): Promise<LabelledSet> {
  const [dataset, split, runFile, threshold = '1'] = spec.split(':') as [string, string, string, string?]
  const [qrels, queries, run] = await Promise.all([loadQrels(dataset, split), loadQueries(dataset), readTrecRun(runFile)])
  const wanted = new Map<string, string[]>()
  for (const [qid, scores] of run) if (qrels.has(qid)) wanted.set(qid, rankEntries(scores).slice(0, depth).map(([id]) => id))
  const need = new Set([...wanted.values()].flat())
  const passages = new Map<string, string>()
  for await (const doc of readCorpus(dataset)) if (need.has(doc.id)) passages.set(doc.id, documentText(doc))
  const examples: CalibrationExample[] = []
  const progress = createProgress({ label: `scoring ${path.basename(dataset)}/${split}`, total: wanted.size })
  for (const [qid, ids] of wanted) {
    const present = ids.filter((id) => passages.has(id))
    const { scores } = await ce.score(queries.get(qid)!.text, present.map((id) => passages.get(id)!))
    present.forEach((id, i) => examples.push({ score: scores[i]!, label: (qrels.get(qid)!.get(id) ?? 0) >= Number(threshold) ? 1 : 0 }))
    progress.tick()
  }
  progress.done()
  return { name: `${path.basename(dataset)}/${split} (${wanted.size} queries, top ${depth}, relevant = label >= ${threshold})`, examples }
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
  const ce = await CrossEncoderReranker.load({ modelDir: modelDirectory(config.modelsDir, values.model), name: values.model })
  const depth = positiveInt('depth', values.depth)
  try {
    const fitSet = await labelledLogits(ce, values.fit, depth)
    const fit = fitCalibrator(fitSet.examples, { rawScale: 'logit' })
    const rows = [{ set: `${fitSet.name}, out-of-fold`, n: fit.n, positives: fit.positives, before: fit.heldOut.before, after: fit.heldOut.after }]
    for (const spec of values.eval) {
      const set = await labelledLogits(ce, spec, depth)
      const labels = set.examples.map((e) => e.label)
      const raw = set.examples.map((e) => e.score as number)
      rows.push({
        set: set.name,
        n: labels.length,
        positives: labels.reduce<number>((s, y) => s + y, 0),
        before: calibrationSummary(raw.map((s) => sigmoid(s)), labels),
        after: calibrationSummary(raw.map((s) => applyCalibrator(fit.calibrator, s)), labels),
      })
    }
    const result = { model: values.model, method: fit.method, params: fit.params, rows, machine: machineInfo(), date: new Date().toISOString() }
    const out = await writeResult(resultPath('calibrate-ce', values.out), result)
    process.stdout.write(`calibrator ${fit.method} ${JSON.stringify(fit.params)}\n`)
    for (const r of rows) {
      const f = (s: { ece: number; brier: number }) => `ECE ${s.ece.toFixed(4)} Brier ${s.brier.toFixed(4)}`
      process.stdout.write(`${r.set}: n ${r.n} (${r.positives} relevant)  before (sigmoid) ${f(r.before)}  after ${f(r.after)}\n`)
    }
    process.stdout.write(`result ${out}\n`)
  } finally {
    await ce.dispose()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`calibrate-cross-encoder failed: ${(error as Error).message}\n`)
  process.exit(1)
})
