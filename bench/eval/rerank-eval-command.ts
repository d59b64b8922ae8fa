import { appendFile, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createProgress } from '../../scripts/lib/progress.js'
import { loadConfig } from '../../src/config.js'
import { documentText, loadQrels, loadQueries, readCorpus } from '../../src/eval/beir.js'
import { rankEntries } from '../../src/eval/metrics.js'
import { readTrecRun, writeTrecRun } from '../../src/eval/trec-run.js'
import { resolveRerank } from '../../src/pipeline/rerank-stage.js'
import { parseRerankStages } from '../../src/rerank/reranker-pool.js'
import { benchRerankerPool } from '../lib/rerankers.js'
import { resultPath, writeResult } from '../lib/paths.js'
import { loadAverage, machineInfo } from '../lib/report.js'
import { evaluateReranking, type QueryRecord, type RerankEvaluationOutcome } from './rerank-evaluation.js'
import { judgedQueryIds } from './run-evaluation.js'

export interface RerankEvalArgs {
  dataset: string
  split: string
  firstStage: string
  /** `model:top_n,...`, or `default` for the server's default cascade (FUNNEL_RERANK_STAGES). */
  rerank: string
  maxQueries?: number
  /** First-stage candidates kept per query (default: all in the run file). */
  depth?: number
  recallAt: number[]
  out?: string
  runFile?: string
  /** Also write each stage's own (unfused) ranking to `<stageRuns>.<n>-<model>.run`. */
  stageRuns?: string
  /**
   * A JSONL file each reranked query is appended to; a run started again with the same file and the
   * same settings skips the queries it holds (long CPU evaluations survive an interrupted session).
   */
  checkpoint?: string
}

/** The settings a checkpoint file was written under: resuming with other ones is refused. */
const checkpointHeader = (args: RerankEvalArgs, plan: unknown) => ({
  dataset: path.basename(path.resolve(args.dataset)),
  split: args.split,
  first_stage: path.basename(args.firstStage),
  depth: args.depth ?? 'all',
  rerank: plan,
})

/** Queries an interrupted run recorded in `file` (empty when it does not exist yet; it is created with its header). */
export async function openCheckpoint(file: string, header: object): Promise<Map<string, QueryRecord>> {
  const done = new Map<string, QueryRecord>()
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    await writeFile(file, `${JSON.stringify({ header })}\n`)
    return done
  }
  const lines = text.split('\n').filter((line) => line.trim().length > 0)
  const first = lines.length > 0 ? (JSON.parse(lines[0]!) as { header?: object }) : {}
  if (JSON.stringify(first.header) !== JSON.stringify(header)) {
    throw new Error(`checkpoint ${file} was written for ${JSON.stringify(first.header)}; this run is ${JSON.stringify(header)} (use another file)`)
  }
  for (const line of lines.slice(1)) {
    // A line cut short by the interruption is dropped; that query runs again.
    try {
      const record = JSON.parse(line) as QueryRecord
      done.set(record.query, record)
    } catch {
      break
    }
  }
  return done
}

/** The stages `--rerank` names, validated as a search request's `rerank.stages` is; 'none' scores the first stage alone. */
export function rerankPlan(spec: string, config: ReturnType<typeof loadConfig>): { model: string; top_n: number; fusion?: 'rrf' }[] {
  if (spec.trim() === 'none') return []
  const requested = spec.trim() === 'default' ? undefined : parseRerankStages(spec)
  const defaults = { stages: parseRerankStages(config.rerankStages), budgetMs: config.rerankBudgetMs, maxCandidates: config.rerankMaxCandidates }
  return resolveRerank(requested === undefined ? {} : { stages: requested }, defaults).stages
}

/**
 * `npm run eval -- --dataset DIR --first-stage RUNFILE --rerank STAGES`: reranks each judged query's
 * candidates from a TREC run file through the same reranker pool the search API uses (no index), and
 * prints nDCG@10, MRR@10 and Recall@k after the first stage and after each rerank stage, with each
 * stage's milliseconds per query.
 */
export async function runRerankEval(args: RerankEvalArgs): Promise<void> {
  const config = loadConfig(process.env, { logLevel: 'warn' })
  const plan = rerankPlan(args.rerank, config)
  const datasetDir = path.resolve(args.dataset)
  const dataset = path.basename(datasetDir)
  const [allQrels, queryTexts, firstStageRun] = await Promise.all([loadQrels(datasetDir, args.split), loadQueries(datasetDir), readTrecRun(args.firstStage)])
  // Judged queries the run lacks stay in: they score 0, as trec_eval -c scores them.
  const judged = judgedQueryIds(allQrels, queryTexts, args.maxQueries)
  const wantedDocs = new Set<string>()
  const firstStage = new Map<string, Map<string, number>>()
  for (const id of judged) {
    const ranked = rankEntries(firstStageRun.get(id) ?? new Map<string, number>()).slice(0, args.depth)
    firstStage.set(id, new Map(ranked))
    for (const [docId] of ranked) wantedDocs.add(docId)
  }
  const passages = new Map<string, string>()
  for await (const doc of readCorpus(datasetDir)) if (wantedDocs.has(doc.id)) passages.set(doc.id, documentText(doc))

  const pool = benchRerankerPool(config)
  const done = args.checkpoint === undefined ? new Map<string, QueryRecord>() : await openCheckpoint(args.checkpoint, checkpointHeader(args, plan))
  const resumed = judged.filter((id) => done.has(id)).length
  if (resumed > 0) process.stderr.write(`resuming: ${resumed} of ${judged.length} queries read from ${args.checkpoint}\n`)
  let outcome: RerankEvaluationOutcome
  try {
    const stages = await Promise.all(plan.map(async (s) => ({ model: s.model, topN: s.top_n, ...(s.fusion !== undefined && { fusion: s.fusion }), reranker: await pool.get(s.model) })))
    outcome = await evaluateReranking({
      queries: new Map(judged.map((id) => [id, queryTexts.get(id)!.text])),
      qrels: allQrels,
      firstStage,
      passage: (id) => passages.get(id),
      stages,
      recallAt: args.recallAt,
      progress: createProgress({ label: `reranking ${dataset}/${args.split}`, total: judged.length - resumed }),
      done,
      ...(args.checkpoint !== undefined && { onQuery: (record: QueryRecord) => appendFile(args.checkpoint!, `${JSON.stringify(record)}\n`) }),
    })
  } finally {
    await pool.close()
  }
  const result = {
    dataset,
    split: args.split,
    first_stage: path.relative(process.cwd(), path.resolve(args.firstStage)),
    depth: args.depth ?? 'all',
    rerank: plan,
    queries: outcome.queries,
    ...(args.maxQueries !== undefined && { query_subset: { first: judged.length, order: 'qrels file order' } }),
    missing_passages: outcome.missingPassages,
    ...(resumed > 0 && { resumed_queries: resumed }),
    stages: outcome.stages,
    machine: { ...machineInfo(), load_average: loadAverage() },
    date: new Date().toISOString(),
  }
  const out = await writeResult(resultPath(`rerank-eval-${dataset}`, args.out), result)
  if (args.runFile !== undefined) await writeTrecRun(args.runFile, outcome.run, { tag: 'funnel-rerank' })
  if (args.stageRuns !== undefined) {
    for (const [i, run] of outcome.stageRuns.entries()) {
      const file = `${args.stageRuns}.${i + 1}-${plan[i]!.model.replace(/[^A-Za-z0-9._-]+/g, '_')}.run`
      await writeTrecRun(file, run, { tag: `stage-${i + 1}` })
      process.stdout.write(`stage run    ${file}\n`)
    }
  }
  process.stdout.write(formatStageTable(dataset, args.split, outcome, args.recallAt) + `result       ${out}\n`)
}

/** The per-stage table: metrics after each stage and that stage's own milliseconds per query. */
export function formatStageTable(dataset: string, split: string, outcome: RerankEvaluationOutcome, recallAt: readonly number[]): string {
  const width = Math.max(12, ...outcome.stages.map((s) => s.stage.length + 1))
  const header = ['stage'.padEnd(width), 'top_n'.padStart(5), 'nDCG@10'.padStart(8), 'MRR@10'.padStart(8), ...recallAt.map((k) => `R@${k}`.padStart(7)), 'p50 ms'.padStart(9), 'p95 ms'.padStart(9)]
  const rows = outcome.stages.map((s, i) =>
    [
      (i === 0 ? s.stage : `+${s.stage}`).padEnd(width),
      String(s.topN ?? '-').padStart(5),
      s.metrics['ndcg@10']!.toFixed(4).padStart(8),
      s.metrics['mrr@10']!.toFixed(4).padStart(8),
      ...recallAt.map((k) => s.metrics[`recall@${k}`]!.toFixed(4).padStart(7)),
      (s.latency === undefined ? '-' : s.latency.p50.toFixed(1)).padStart(9),
      (s.latency === undefined ? '-' : s.latency.p95.toFixed(1)).padStart(9),
    ].join(' '),
  )
  return [`dataset      ${dataset}/${split} (${outcome.queries} queries)`, header.join(' '), ...rows, ''].join('\n')
}
