import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createProgress } from '../../scripts/lib/progress.js'
import { baselineProbability, DEFAULT_CALIBRATION_TOP_K, type JudgedQuery, type StageFitReport } from '../../src/pipeline/calibration-service.js'
import { binarize, type CalibrationExample } from '../../src/calibration/fit.js'
import { calibrationSummary, reliabilityBins, type CalibrationSummary } from '../../src/calibration/metrics.js'
import { reliabilityDiagramForFit, renderReliabilitySvg } from '../../src/calibration/reliability-svg.js'
import type { StageName } from '../../src/candidate.js'
import { loadQrels, loadQueries } from '../../src/eval/beir.js'
import type { RetrievalMode } from '../../src/pipeline/first-pass.js'
import { exitWithUsage, parseCommand, positiveInt } from '../lib/args.js'
import { indexBeirCorpus, openHarness } from '../lib/harness.js'
import { resultPath, writeResult } from '../lib/paths.js'
import { machineInfo } from '../lib/report.js'

const USAGE = `usage: npm run calibrate -- --dataset DIR [--split train] [options]

Indexes a BEIR-format dataset through Funnel's own pipeline, fits a relevance-probability calibrator
for the final stage of each search mode on one qrels split (each judged query is searched and its top-k
hits labelled; unjudged hits count as not relevant, as in BEIR), stores it in the harness database,
then measures ECE (15 bins), Brier score and log-loss before and after calibration on a held-out split
and, optionally, on a second dataset (out of domain).

  --dataset DIR          BEIR folder to fit on (e.g. ../shared/datasets/scifact)
  --split NAME           qrels split to fit on (default train)
  --eval-split NAME      held-out split of the same dataset (default test; 'none' to skip)
  --eval-dataset DIR     a second BEIR folder evaluated on its test split (out of domain)
  --model ID             embedding model (default FUNNEL_EMBEDDING_MODEL or the offline default)
  --mode LIST            dense, lexical, hybrid, or a comma-separated list (default dense,lexical)
  --top-k N              hits labelled per query (default ${DEFAULT_CALIBRATION_TOP_K})
  --label-threshold N    graded labels at or above N are relevant (default 1)
  --folds N              cross-validation folds (default 5)
  --svg-dir DIR          write reliability diagrams (SVG) there
  --data-dir DIR         where collections and calibrators live (default a folder under the OS temp dir)
  --out FILE             JSON result (default bench-results/calibrate-<dataset>-<time>.json)
`

interface Options {
  dataset: string
  split: string
  evalSplit: string | undefined
  evalDataset: string | undefined
  model: string | undefined
  modes: RetrievalMode[]
  topK: number
  labelThreshold: number
  folds: number | undefined
  svgDir: string | undefined
  dataDir: string
  out: string | undefined
}

/** One row of the result table: a calibrator measured on one set of labelled hits. */
interface Row {
  mode: RetrievalMode
  stage: StageName
  model: string
  method: string
  version: number
  set: string
  n: number
  positives: number
  before: CalibrationSummary
  after: CalibrationSummary
  /** Predicting the fit's base rate for every hit: calibrated by construction, with no discrimination. */
  reference: CalibrationSummary
  svg?: string
}

function parseOptions(): Options {
  const values = parseCommand(USAGE, {
    dataset: { type: 'string' },
    split: { type: 'string', default: 'train' },
    'eval-split': { type: 'string', default: 'test' },
    'eval-dataset': { type: 'string' },
    model: { type: 'string' },
    mode: { type: 'string', default: 'dense,lexical' },
    'top-k': { type: 'string', default: String(DEFAULT_CALIBRATION_TOP_K) },
    'label-threshold': { type: 'string', default: '1' },
    folds: { type: 'string' },
    'svg-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    out: { type: 'string' },
  })
  if (values.dataset === undefined) exitWithUsage(USAGE)
  const modes = values.mode.split(',').map((m) => m.trim())
  for (const m of modes) if (!['dense', 'lexical', 'hybrid'].includes(m)) throw new Error(`--mode: '${m}' is not a mode; use dense, lexical or hybrid`)
  const threshold = Number(values['label-threshold'])
  if (!Number.isFinite(threshold)) throw new Error(`--label-threshold must be a number, got ${values['label-threshold']}`)
  return {
    dataset: path.resolve(values.dataset),
    split: values.split,
    evalSplit: values['eval-split'] === 'none' ? undefined : values['eval-split'],
    evalDataset: values['eval-dataset'] === undefined ? undefined : path.resolve(values['eval-dataset']),
    model: values.model,
    modes: modes as RetrievalMode[],
    topK: positiveInt('top-k', values['top-k']),
    labelThreshold: threshold,
    folds: values.folds === undefined ? undefined : positiveInt('folds', values.folds),
    svgDir: values['svg-dir'],
    dataDir: values['data-dir'] ?? path.join(os.tmpdir(), 'funnel-eval'),
    out: values.out,
  }
}

/** The collection eval-command uses for the same dataset and model, so the two share one index. */
const collectionName = (datasetDir: string, model: string): string => `${path.basename(datasetDir)}-${model.replace(/[^A-Za-z0-9]/g, '-')}`.slice(0, 64)

async function indexDataset(app: FastifyInstance, datasetDir: string, model: string): Promise<string> {
  const collection = collectionName(datasetDir, model)
  await indexBeirCorpus(app, datasetDir, { collection, model, reuse: true })
  return collection
}

/** The judged queries of a split, labels binarized at the threshold. */
async function judgedQueries(datasetDir: string, split: string, threshold: number): Promise<JudgedQuery[]> {
  const qrels = await loadQrels(datasetDir, split)
  const queries = await loadQueries(datasetDir)
  return [...qrels.entries()].flatMap(([qid, judged]) => {
    const query = queries.get(qid)
    if (query === undefined) return []
    const labels = binarize([...judged.values()], threshold)
    return [{ query: query.text, labels: new Map([...judged.keys()].map((id, i) => [id, labels[i]!])) }]
  })
}

const slug = (text: string): string => text.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')

async function writeSvg(options: Options, name: string, svg: string): Promise<string | undefined> {
  if (options.svgDir === undefined) return undefined
  const file = path.join(options.svgDir, `${slug(name)}.svg`)
  await mkdir(options.svgDir, { recursive: true })
  await writeFile(file, svg)
  return file
}

async function fitMode(app: FastifyInstance, options: Options, collection: string, judged: readonly JudgedQuery[], mode: RetrievalMode): Promise<StageFitReport> {
  const label = `fitting ${mode} on ${path.basename(options.dataset)}/${options.split}`
  const progress = createProgress({ label, total: judged.length })
  // Binarized already: hand the service 0/1 judgements in qrels form.
  const qrels = judged.flatMap((q, i) => [...q.labels].map(([id, label]) => ({ query_id: String(i), query: q.query, id, label })))
  const outcome = await app.calibration.fit(
    { collection, qrels, mode, top_k: options.topK, ...(options.folds !== undefined && { folds: options.folds }) },
    { onProgress: () => progress.tick() },
  )
  progress.done()
  return outcome.calibrators[0]!
}

/** Labels the hits of held-out queries and scores the stored calibrator on them against the raw baseline. */
async function evaluate(app: FastifyInstance, options: Options, fit: StageFitReport, mode: RetrievalMode, set: string, collection: string, judged: readonly JudgedQuery[]): Promise<Row> {
  const progress = createProgress({ label: `evaluating ${mode} on ${set}`, total: judged.length })
  const labelled = await app.calibration.labelSearchHits(judged, { collection, mode, top_k: options.topK, fusion: 'rrf' }, { onProgress: () => progress.tick() })
  progress.done()
  const examples: CalibrationExample[] = labelled.stages.get(fit.stage) ?? []
  if (examples.length === 0) throw new Error(`no ${fit.stage} scores on ${set}`)
  const labels = examples.map((e) => e.label)
  const before = examples.map((e) => baselineProbability(fit.baseline, e.score as number, e.rank))
  const after = examples.map((e) => app.calibrators.apply(fit.model, fit.stage, e.score as number, e.rank === undefined ? {} : { rank: e.rank })!)
  const summary = { before: calibrationSummary(before, labels), after: calibrationSummary(after, labels), reference: baseRateSummary(fit, labels) }
  const svg = await writeSvg(
    options,
    `calibration-${mode}-${fit.stage}-${set}`,
    renderReliabilitySvg({
      title: `${fit.stage} (${fit.method}) on ${set}, n = ${examples.length}`,
      before: { bins: reliabilityBins(before, labels), ece: summary.before.ece },
      after: { bins: reliabilityBins(after, labels), ece: summary.after.ece },
    }),
  )
  return { ...rowBase(fit, mode, set), n: examples.length, positives: labels.reduce<number>((s, y) => s + y, 0), ...summary, ...(svg !== undefined && { svg }) }
}

const baseRateSummary = (fit: StageFitReport, labels: readonly (0 | 1)[]): CalibrationSummary =>
  calibrationSummary(labels.map(() => fit.positives / fit.n), labels)

const countsAsLabels = (n: number, positives: number): (0 | 1)[] => Array.from({ length: n }, (_, i) => (i < positives ? 1 : 0))

const rowBase = (fit: StageFitReport, mode: RetrievalMode, set: string) => ({ mode, stage: fit.stage, model: fit.model, method: fit.method, version: fit.version, set })

function table(rows: readonly Row[]): string {
  const pair = (a: number, b: number) => `${a.toFixed(4)} → ${b.toFixed(4)}`
  const header =
    '| mode | stage (key) | method | evaluated on | n | relevant | ECE before → after | Brier before → after | log-loss before → after | base-rate reference ECE / Brier / log-loss |'
  const lines = rows.map(
    (r) =>
      `| ${r.mode} | ${r.stage} (${r.model}) v${r.version} | ${r.method} | ${r.set} | ${r.n} | ${r.positives} | ${pair(r.before.ece, r.after.ece)} | ${pair(r.before.brier, r.after.brier)} | ${pair(r.before.logLoss, r.after.logLoss)} | ${[r.reference.ece, r.reference.brier, r.reference.logLoss].map((v) => v.toFixed(4)).join(' / ')} |`,
  )
  return [header, '|---|---|---|---|---|---|---|---|---|---|', ...lines].join('\n')
}

async function main(): Promise<void> {
  const options = parseOptions()
  const app = await openHarness({ dataDir: options.dataDir, ...(options.model !== undefined && { embeddingModel: options.model }) })
  try {
    const model = options.model ?? app.models.defaultModelId
    const dataset = path.basename(options.dataset)
    const collection = await indexDataset(app, options.dataset, model)
    const train = await judgedQueries(options.dataset, options.split, options.labelThreshold)
    const targets: { set: string; collection: string; judged: JudgedQuery[] }[] = []
    if (options.evalSplit !== undefined) {
      targets.push({ set: `${dataset}/${options.evalSplit}`, collection, judged: await judgedQueries(options.dataset, options.evalSplit, options.labelThreshold) })
    }
    if (options.evalDataset !== undefined) {
      const other = await indexDataset(app, options.evalDataset, model)
      targets.push({ set: `${path.basename(options.evalDataset)}/test`, collection: other, judged: await judgedQueries(options.evalDataset, 'test', options.labelThreshold) })
    }
    const rows: Row[] = []
    for (const mode of options.modes) {
      const fit = await fitMode(app, options, collection, train, mode)
      const set = `${dataset}/${options.split} (5-fold held-out)`
      const svg = await writeSvg(options, `calibration-${mode}-${fit.stage}-${dataset}-${options.split}-cv`, reliabilityDiagramForFit(fit.fit, `${fit.stage} (${fit.method}) on ${set}, n = ${fit.n}`))
      rows.push({ ...rowBase(fit, mode, set), n: fit.n, positives: fit.positives, before: fit.fit.heldOut.before, after: fit.fit.heldOut.after, reference: baseRateSummary(fit, countsAsLabels(fit.n, fit.positives)), ...(svg !== undefined && { svg }) })
      for (const target of targets) rows.push(await evaluate(app, options, fit, mode, target.set, target.collection, target.judged))
    }
    const result = {
      dataset,
      split: options.split,
      model,
      top_k: options.topK,
      label_threshold: options.labelThreshold,
      unjudged: 'not relevant',
      rows,
      machine: machineInfo(),
      date: new Date().toISOString(),
    }
    const out = await writeResult(resultPath(`calibrate-${dataset}`, options.out), result)
    const svgs = rows.flatMap((r) => (r.svg === undefined ? [] : [r.svg]))
    process.stdout.write(`${table(rows)}\n\nresult       ${out}\n${svgs.length > 0 ? `diagrams     ${svgs.join('\n             ')}\n` : ''}`)
  } finally {
    await app.close()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`calibrate failed: ${(error as Error).message}\n`)
  process.exit(1)
})
