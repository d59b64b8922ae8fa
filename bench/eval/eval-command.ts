import os from 'node:os'
import path from 'node:path'
import { writeTrecRun } from '../../src/eval/trec-run.js'
import { parseRerankStages } from '../../src/rerank/reranker-pool.js'
import { exitWithUsage, optionalPositiveInt, parseCommand, positiveInt } from '../lib/args.js'
import { indexBeirCorpus, openHarness } from '../lib/harness.js'
import { resultPath, writeResult } from '../lib/paths.js'
import { machineInfo } from '../lib/report.js'
import { runRerankEval } from './rerank-eval-command.js'
import { runEvaluation } from './run-evaluation.js'

const USAGE = `usage: npm run eval -- --dataset DIR [--split test] [options]
       npm run eval -- --dataset DIR --first-stage RUNFILE --rerank STAGES|default [options]

Indexes a BEIR-format dataset (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) through Funnel's own
pipeline, runs every judged query and prints nDCG@10, Recall@100, MRR@10 and latency.

With --first-stage, nothing is indexed: each judged query's candidates are read from a TREC run file
and reranked by the --rerank cascade (model:top_n,... as in the search API's rerank.stages; 'default'
is FUNNEL_RERANK_STAGES; 'none' only scores the run file), printing nDCG@10, MRR@10 and Recall@k after the first stage and after each
stage, with each stage's p50/p95 milliseconds per query.

  --first-stage FILE   TREC run file of the first stage (e.g. ../shared/datasets/trec-dl19/bm25-top100.run)
  --depth N            first-stage candidates per query (default: all in the run)
  --recall-at K,K      Recall cutoffs printed with --first-stage (default 20,100)

  --dataset DIR        BEIR folder (e.g. ../shared/datasets/scifact)
  --split NAME         qrels split (default test)
  --max-queries N      run only the first N judged queries, in qrels file order (a fixed subset;
                       the output says so); compare runs only on the same N
  --model ID           embedding model (default FUNNEL_EMBEDDING_MODEL or the offline default)
  --index-dims N       HNSW index dims (Matryoshka truncation; default full)
  --oversample N       HNSW shortlist multiple before full-dim rescoring (default 4)
  --dimensions N       rescoring dims (default full)
  --top-k N            results per query (default 100)
  --mode MODE          dense | lexical | hybrid (default: the collection/model default)
  --prf                pseudo-relevance feedback (guarded); --prf-depth N, --no-guard
  --rerank SPEC        cascade, e.g. test/ce:100,test/lm:20 (model:top_n,...)
  --request JSON       extra search request fields merged into every query (e.g. fusion weights)
  --collection NAME    collection to (re)use (default derived from dataset and model)
  --reuse              keep an existing collection with the same document count
  --vectors-from NAME  build the collection from the full-dimension vectors stored in collection NAME
                       (same --data-dir and model) instead of embedding the corpus again: funnel rows
                       at other --index-dims for the cost of an index build
  --data-dir DIR       where the evaluation collection lives (default a folder under the OS temp dir)
  --out FILE           JSON result file (default bench-results/eval-<dataset>-<time>.json)
  --run-file FILE      also write a TREC run file (for pytrec_eval cross-checks)
  --stage-runs PREFIX  with --first-stage: also write each stage's own, unfused ranking to
                       PREFIX.<n>-<model>.run (for npm run bench:fuse-runs)
  --checkpoint FILE    with --first-stage: append each reranked query to FILE (JSONL); run the same
                       command again to resume after an interruption (settings must match)
`

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    dataset: { type: 'string' },
    split: { type: 'string', default: 'test' },
    'max-queries': { type: 'string' },
    model: { type: 'string' },
    'index-dims': { type: 'string' },
    oversample: { type: 'string' },
    dimensions: { type: 'string' },
    'top-k': { type: 'string', default: '100' },
    request: { type: 'string' },
    mode: { type: 'string' },
    prf: { type: 'boolean', default: false },
    'prf-depth': { type: 'string' },
    'no-guard': { type: 'boolean', default: false },
    rerank: { type: 'string' },
    'first-stage': { type: 'string' },
    depth: { type: 'string' },
    'recall-at': { type: 'string', default: '20,100' },
    collection: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    'vectors-from': { type: 'string' },
    'data-dir': { type: 'string' },
    out: { type: 'string' },
    'run-file': { type: 'string' },
    'stage-runs': { type: 'string' },
    checkpoint: { type: 'string' },
  })
  if (values.dataset === undefined) exitWithUsage(USAGE)
  const maxQueries = optionalPositiveInt('max-queries', values['max-queries']) // checked before the slow indexing
  if (values['first-stage'] !== undefined) {
    if (values.rerank === undefined) throw new Error('--first-stage needs --rerank STAGES (model:top_n,...), --rerank default, or --rerank none')
    const depth = optionalPositiveInt('depth', values.depth)
    await runRerankEval({
      dataset: values.dataset,
      split: values.split,
      firstStage: values['first-stage'],
      rerank: values.rerank,
      recallAt: values['recall-at'].split(',').map((k) => positiveInt('recall-at', k.trim())),
      ...(maxQueries !== undefined && { maxQueries }),
      ...(depth !== undefined && { depth }),
      ...(values.out !== undefined && { out: values.out }),
      ...(values['run-file'] !== undefined && { runFile: values['run-file'] }),
      ...(values['stage-runs'] !== undefined && { stageRuns: values['stage-runs'] }),
      ...(values.checkpoint !== undefined && { checkpoint: values.checkpoint }),
    })
    return
  }
  const datasetDir = path.resolve(values.dataset)
  const dataset = path.basename(datasetDir)
  const dataDir = values['data-dir'] ?? path.join(os.tmpdir(), 'funnel-eval')
  const app = await openHarness({ dataDir, ...(values.model !== undefined && { embeddingModel: values.model }) })
  try {
    const model = values.model ?? app.models.defaultModelId
    const indexDims = optionalPositiveInt('index-dims', values['index-dims'])
    const collection = values.collection ?? `${dataset}-${model.replace(/[^A-Za-z0-9]/g, '-')}${indexDims === undefined ? '' : `-d${indexDims}`}`.slice(0, 64)
    const indexing = await indexBeirCorpus(app, datasetDir, {
      collection,
      model,
      ...(indexDims !== undefined && { index: { dims: indexDims } }),
      reuse: values.reuse,
      ...(values['vectors-from'] !== undefined && { vectorsFrom: values['vectors-from'] }),
    })
    const extra: Record<string, unknown> = {
      ...(values.mode !== undefined && { mode: values.mode }),
      ...(values.prf && { prf: { enabled: true, guard: !values['no-guard'], ...(values['prf-depth'] !== undefined && { depth: positiveInt('prf-depth', values['prf-depth']) }) } }),
      ...(values.rerank !== undefined && { rerank: { stages: parseRerankStages(values.rerank) } }),
      ...(values.request === undefined ? {} : (JSON.parse(values.request) as Record<string, unknown>)),
    }
    const topK = positiveInt('top-k', values['top-k'])
    const oversample = optionalPositiveInt('oversample', values.oversample)
    const dimensions = optionalPositiveInt('dimensions', values.dimensions)
    const outcome = await runEvaluation(app, collection, datasetDir, values.split, {
      top_k: topK,
      include: [],
      ...(oversample !== undefined && { oversample }),
      ...(dimensions !== undefined && { dimensions }),
      ...extra,
    }, `querying ${dataset}/${values.split}`, { ...(maxQueries !== undefined && { maxQueries }) })
    const latency = outcome.latency
    const run = outcome.run
    const result = {
      dataset,
      split: values.split,
      model,
      index_dims: indexDims ?? 'full',
      mode: outcome.modes.join(','),
      mode_source: values.mode !== undefined ? 'request' : 'collection default',
      request: { top_k: topK, oversample, dimensions, ...extra },
      queries: outcome.queries,
      ...(outcome.subset !== undefined && { query_subset: { ...outcome.subset, order: 'qrels file order' } }),
      metrics: outcome.metrics,
      ...(outcome.prf_original_share !== undefined && { prf_original_share: outcome.prf_original_share }),
      latency_ms: latency,
      indexing: { documents: indexing.documents, seconds: Math.round(indexing.seconds * 10) / 10, docs_per_second: Math.round(indexing.docsPerSecond), reused: indexing.reused, ...(indexing.vectorsFrom !== undefined && { vectors_from: indexing.vectorsFrom }) },
      machine: machineInfo(),
      date: new Date().toISOString(),
    }
    const out = await writeResult(resultPath(`eval-${dataset}`, values.out), result)
    if (values['run-file'] !== undefined) await writeTrecRun(values['run-file'], run, { tag: 'funnel' })
    const m = outcome.metrics
    const subset = outcome.subset === undefined ? '' : `; SUBSET: the first ${outcome.subset.first} of ${outcome.subset.of} judged, qrels order`
    process.stdout.write(
      [
        `dataset      ${dataset}/${values.split} (${outcome.queries} queries${subset})`,
        `model        ${model} (index dims ${indexDims ?? 'full'})`,
        `mode         ${outcome.modes.join(',')}${values.mode === undefined ? " (the collection's default; --mode to choose)" : ''}`,
        `nDCG@10      ${m['ndcg@10']!.toFixed(4)}`,
        `Recall@100   ${m['recall@100']!.toFixed(4)}`,
        `MRR@10       ${m['mrr@10']!.toFixed(4)}`,
        `latency ms   p50 ${latency.p50}  p95 ${latency.p95}  (per query, in-process)`,
        `result       ${out}`,
        '',
      ].join('\n'),
    )
  } finally {
    await app.close()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`eval failed: ${(error as Error).message}\n`)
  process.exit(1)
})
