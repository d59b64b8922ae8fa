import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { loadConfig } from '../../../src/config.js'
import { loadQrels, loadQueries, readCorpus } from '../../../src/eval/beir.js'
import { evaluateReranking, type EvaluatedStage, type QueryRecord } from '../../../bench/eval/rerank-evaluation.js'
import { formatStageTable, rerankPlan, runRerankEval } from '../../../bench/eval/rerank-eval-command.js'
import { readTrecRun } from '../../../src/eval/trec-run.js'
import type { Candidate } from '../../../src/candidate.js'
import { CrossEncoderReranker } from '../../../src/rerank/cross-encoder.js'
import type { Reranker } from '../../../src/rerank/reranker.js'
import { fixtureModelDir } from '../../helpers/fixture-models.js'

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/rerank-eval')

/** Orders candidates by the length of their text (longest first): a reranker whose order is easy to predict. */
function byLength(name: string, calls: string[][]): Reranker {
  return {
    name,
    scoreKey: 'cross_encoder',
    async rank(_query: string, candidates: Candidate[], options = {}) {
      calls.push(candidates.map((c) => c.id))
      const ranked = [...candidates].sort((a, b) => b.text.length - a.text.length).map((c) => ({ ...c, score: c.text.length }))
      return { candidates: ranked.slice(0, options.topN ?? ranked.length), truncatedPassages: 0 }
    },
    async dispose() {},
  }
}

/** A temp models folder holding the tiny cross-encoder fixture, as FUNNEL_MODELS_DIR until the test ends. */
async function useTinyCrossEncoder(t: Test, prefix: string): Promise<string> {
  const modelsDir = await mkdtemp(path.join(os.tmpdir(), prefix))
  await cp(await fixtureModelDir('tiny-cross-encoder'), path.join(modelsDir, 'test', 'tiny-cross-encoder'), { recursive: true })
  const saved = process.env.FUNNEL_MODELS_DIR
  process.env.FUNNEL_MODELS_DIR = modelsDir
  t.teardown(() => {
    if (saved === undefined) delete process.env.FUNNEL_MODELS_DIR
    else process.env.FUNNEL_MODELS_DIR = saved
  })
  return modelsDir
}

async function loadFixture() {
  const passages = new Map<string, string>()
  for await (const doc of readCorpus(fixture)) passages.set(doc.id, doc.text)
  const queries = await loadQueries(fixture)
  return {
    queries: new Map([...queries].map(([id, q]) => [id, q.text])),
    qrels: await loadQrels(fixture, 'test'),
    firstStage: await readTrecRun(path.join(fixture, 'first-stage.run')),
    passage: (id: string) => passages.get(id),
  }
}

t.test('each stage reorders the previous top N; the tail keeps its order and every stage is scored', async (t) => {
  const input = await loadFixture()
  const calls: string[][] = []
  const stages: EvaluatedStage[] = [
    { model: 'first/long', topN: 3, reranker: byLength('first/long', calls) },
    { model: 'second/long', topN: 2, reranker: byLength('second/long', calls) },
  ]
  const out = await evaluateReranking({ ...input, stages, recallAt: [2, 5] })
  t.equal(out.queries, 4, 'q4 is judged but has no run entry: it is scored (as 0), not dropped')
  t.equal(out.missingPassages, 1, 'd9 has no passage text')
  t.same(calls.slice(0, 2), [['d2', 'd3', 'd1'], ['d1', 'd2']], 'q1: stage 1 sees the BM25 top 3, stage 2 stage 1\'s top 2')
  t.same([...out.run.get('q1')!.keys()], ['d1', 'd2', 'd3', 'd5', 'd4'], 'q1 final: reranked head, then the untouched tail')
  t.equal(out.stageRuns.length, 2, 'one own ranking per stage')
  t.same([...out.stageRuns[1]!.get('q1')!.keys()], [...out.run.get('q1')!.keys()], 'without fusion the last stage\'s own ranking is the final one')
  const byLen = (ids: string[]) => [...ids].sort((a, b) => input.passage(b)!.length - input.passage(a)!.length)
  t.same([...out.stageRuns[0]!.get('q1')!.keys()], [...byLen(['d2', 'd3', 'd1']), 'd5', 'd4'], 'stage 1\'s own ranking: its order of the BM25 top 3, then the tail')
  const fused = await evaluateReranking({ ...input, stages: [stages[0]!, { ...stages[1]!, fusion: 'rrf' }], recallAt: [2, 5] })
  t.same([...fused.stageRuns[1]!.get('q1')!.keys()], [...byLen([...fused.stageRuns[0]!.get('q1')!.keys()].slice(0, 2)), ...[...fused.stageRuns[0]!.get('q1')!.keys()].slice(2)], 'a fused stage\'s own ranking is its order, not the fused one')
  t.same(out.stages.map((s) => s.stage), ['first stage', 'first/long', 'second/long'])
  t.same(out.stages.map((s) => s.topN), [undefined, 3, 2])
  // q1 first stage: relevant d1 (2) at rank 3, d4 (1) at rank 5.
  const first = out.stages[0]!.metrics
  t.ok(Math.abs(first['mrr@10']! - (1 / 3 + 1 / 1 + 1 / 3 + 0) / 4) < 1e-12, 'first-stage MRR@10 over the 4 judged queries')
  t.equal(first['recall@5'], (1 + 1 + 1 + 0) / 4)
  t.ok(out.stages[1]!.latency!.count === 3, 'a stage is timed once per query that had candidates')
  t.equal(out.stages[0]!.latency, undefined, 'the first stage comes from a file: no timing')
})

t.test('with the tiny cross-encoder fixture, the metrics follow its logits', async (t) => {
  const input = await loadFixture()
  const ce = await CrossEncoderReranker.load({ modelDir: await fixtureModelDir('tiny-cross-encoder'), name: 'test/ce' })
  t.teardown(() => ce.dispose())
  const out = await evaluateReranking({ ...input, stages: [{ model: 'test/ce', topN: 4, reranker: ce }] })
  for (const [qid, ranked] of out.run) {
    const ids = [...ranked.keys()].slice(0, Math.min(4, ranked.size))
    if (ids.length === 0) continue
    const { scores } = await ce.score(input.queries.get(qid)!, ids.map((id) => input.passage(id)!))
    const logits = [...scores]
    t.same(logits, [...logits].sort((a, b) => b - a), `${qid}: the reranked head is in logit order`)
  }
  t.ok(out.stages[1]!.metrics['ndcg@10']! >= 0 && out.stages[1]!.metrics['ndcg@10']! <= 1)
})

t.test('--rerank: model:top_n as rerank.stages, or default = FUNNEL_RERANK_STAGES', async (t) => {
  const config = loadConfig({ FUNNEL_RERANK_STAGES: 'a/b:50,c/d:10' })
  t.same(rerankPlan('default', config), [{ model: 'a/b', top_n: 50 }, { model: 'c/d', top_n: 10 }])
  t.same(rerankPlan('x/y:20', config), [{ model: 'x/y', top_n: 20 }])
  t.same(rerankPlan('none', config), [], "'none' scores the first stage alone")
  t.throws(() => rerankPlan('x/y:10,z/w:20', config), { code: 'invalid_value' }, 'a later stage cannot see more than the previous top_n')
  t.throws(() => rerankPlan('x/y', config), /not model:top_n/)
  t.throws(() => rerankPlan('default', loadConfig({ FUNNEL_RERANK_STAGES: '' })), /FUNNEL_RERANK_STAGES/)
  t.same(
    rerankPlan('default', loadConfig({})),
    [
      { model: 'intfloat/e5-small-v2', top_n: 100 },
      { model: 'google/embeddinggemma-300m', top_n: 100, fusion: 'rrf' },
    ],
    'the documented CPU cascade is the default',
  )
  t.same(rerankPlan('x/y:20,z/w:20:rrf', config), [{ model: 'x/y', top_n: 20 }, { model: 'z/w', top_n: 20, fusion: 'rrf' }], 'a fused stage as the search API spells it')
})

t.test('the command reranks a run file through the reranker pool and writes the result JSON', async (t) => {
  const modelsDir = await useTinyCrossEncoder(t, 'rerank-eval-models-')
  const out = path.join(modelsDir, 'result.json')
  const printed: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string) => printed.push(chunk) > 0) as typeof process.stdout.write
  try {
    await runRerankEval({ dataset: fixture, split: 'test', firstStage: path.join(fixture, 'first-stage.run'), rerank: 'test/tiny-cross-encoder:4', recallAt: [5], out })
  } finally {
    process.stdout.write = write
  }
  const result = JSON.parse(await readFile(out, 'utf8'))
  t.equal(result.queries, 4)
  t.same(result.rerank, [{ model: 'test/tiny-cross-encoder', top_n: 4 }])
  t.same(result.stages.map((s: { stage: string }) => s.stage), ['first stage', 'test/tiny-cross-encoder'])
  t.match(printed.join(''), /\+test\/tiny-cross-encoder\s+4\s+\d\.\d{4}/)
  await t.rejects(
    runRerankEval({ dataset: fixture, split: 'test', firstStage: path.join(fixture, 'first-stage.run'), rerank: 'no/such-model:4', recallAt: [5], out }),
    { code: 'unknown_model' },
  )
})

t.test('the stage table prints one row per stage', async (t) => {
  const table = formatStageTable('demo', 'test', {
    queries: 2,
    missingPassages: 0,
    run: new Map(),
    stageRuns: [],
    stages: [
      { stage: 'first stage', metrics: { 'ndcg@10': 0.5, 'mrr@10': 0.6, 'recall@20': 0.7 } },
      { stage: 'm/x', topN: 20, metrics: { 'ndcg@10': 0.55, 'mrr@10': 0.65, 'recall@20': 0.7 }, latency: { count: 2, min: 1, mean: 2, p50: 2, p95: 3, p99: 3, max: 3 } },
    ],
  }, [20])
  t.match(table, /first stage\s+-\s+0\.5000\s+0\.6000\s+0\.7000\s+-\s+-/)
  t.match(table, /\+m\/x\s+20\s+0\.5500\s+0\.6500\s+0\.7000\s+2\.0\s+3\.0/)
})

t.test('a checkpoint replays recorded queries without reranking them, whole or in part', async (t) => {
  const input = await loadFixture()
  const calls: string[][] = []
  const stages: EvaluatedStage[] = [
    { model: 'first/long', topN: 3, reranker: byLength('first/long', calls) },
    { model: 'second/long', topN: 2, fusion: 'rrf', reranker: byLength('second/long', calls) },
  ]
  const records: QueryRecord[] = []
  const full = await evaluateReranking({ ...input, stages, recallAt: [2, 5], onQuery: async (r) => void records.push(r) })
  t.equal(records.length, 4, 'one record per query, q4 (no candidates in the run) too')
  const refusing: EvaluatedStage[] = stages.map((s) => ({ ...s, reranker: { ...s.reranker, rank: async () => t.fail(`${s.model} called`) as never } }))
  const replayed = await evaluateReranking({ ...input, stages: refusing, recallAt: [2, 5], done: new Map(records.map((r) => [r.query, r])) })
  t.same(replayed.stages.map((s) => s.metrics), full.stages.map((s) => s.metrics), 'same metrics from the records alone')
  t.same([...replayed.run], [...full.run])
  t.same(replayed.stageRuns.map((r) => [...r]), full.stageRuns.map((r) => [...r]))
  calls.length = 0
  const partial = await evaluateReranking({ ...input, stages, recallAt: [2, 5], done: new Map(records.slice(0, 2).map((r) => [r.query, r])) })
  t.equal(calls.length, 2, 'only the unrecorded queries are reranked: q3 by both stages, q4 has no candidates')
  t.same(partial.stages.map((s) => s.metrics), full.stages.map((s) => s.metrics))
})

t.test('--checkpoint: the command appends each query and a second run resumes from the file', async (t) => {
  const modelsDir = await useTinyCrossEncoder(t, 'rerank-eval-ckpt-')
  const checkpoint = path.join(modelsDir, 'ckpt.jsonl')
  const args = { dataset: fixture, split: 'test', firstStage: path.join(fixture, 'first-stage.run'), rerank: 'test/tiny-cross-encoder:4', recallAt: [5], checkpoint }
  const quiet = async <T>(fn: () => Promise<T>): Promise<{ value: T; err: string }> => {
    const write = process.stdout.write.bind(process.stdout)
    const writeErr = process.stderr.write.bind(process.stderr)
    const err: string[] = []
    process.stdout.write = (() => true) as typeof process.stdout.write
    process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write
    try {
      return { value: await fn(), err: err.join('') }
    } finally {
      process.stdout.write = write
      process.stderr.write = writeErr
    }
  }
  await quiet(() => runRerankEval({ ...args, out: path.join(modelsDir, 'a.json') }))
  const lines = (await readFile(checkpoint, 'utf8')).trim().split('\n')
  t.equal(lines.length, 1 + 4, 'a header, then one line per query')
  // An interruption mid-write leaves a cut line: it is dropped and that query runs again.
  await writeFile(checkpoint, `${lines.slice(0, 3).join('\n')}\n${lines[3]!.slice(0, 20)}`)
  const second = await quiet(() => runRerankEval({ ...args, out: path.join(modelsDir, 'b.json') }))
  t.match(second.err, /resuming: 2 of 4 queries/)
  const a = JSON.parse(await readFile(path.join(modelsDir, 'a.json'), 'utf8'))
  const b = JSON.parse(await readFile(path.join(modelsDir, 'b.json'), 'utf8'))
  t.same(b.stages.map((s: { metrics: object }) => s.metrics), a.stages.map((s: { metrics: object }) => s.metrics), 'the resumed run scores the same')
  t.equal(b.resumed_queries, 2)
  await t.rejects(runRerankEval({ ...args, rerank: 'test/tiny-cross-encoder:2', out: path.join(modelsDir, 'c.json') }), /checkpoint .* was written for/, 'other settings refuse the file')
})
