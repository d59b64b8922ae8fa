import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { Candidate } from '../../src/candidate.js'
import { CrossEncoderReranker, relevanceLogits, type CrossEncoderOptions } from '../../src/rerank/cross-encoder.js'
import { fixtureModelDir, readGolden } from '../helpers/fixture-models.js'

const TOLERANCE = 1e-4

function assertClose(t: Test, actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  t.equal(actual.length, expected.length, `${what}: length`)
  const diff = Math.max(...expected.map((e, i) => Math.abs(actual[i]! - e)))
  t.ok(diff <= TOLERANCE, `${what} within ${TOLERANCE}`, { maxAbsDiff: diff })
}

async function load(t: Test, fixture: string, options: Partial<CrossEncoderOptions> = {}): Promise<CrossEncoderReranker> {
  const ce = await CrossEncoderReranker.load({ modelDir: await fixtureModelDir(fixture), ...options })
  t.teardown(() => ce.dispose())
  return ce
}

/** Golden cases grouped by query (Map.groupBy needs Node 21). */
function byQuery<C extends { query: string }>(cases: readonly C[]): Map<string, C[]> {
  const groups = new Map<string, C[]>()
  for (const c of cases) groups.set(c.query, [...(groups.get(c.query) ?? []), c])
  return groups
}

const candidate = (id: string, text: string, dense: number): Candidate => ({ id, text, score: dense, scores: { dense } })

t.test('one-logit cross-encoder matches the golden logits, whatever the batching', async (t) => {
  const golden = readGolden('tiny-cross-encoder')
  for (const options of [{ batchSize: 2 }, { batchSize: 32, sortByLength: false }, { batchSize: 1 }]) {
    const ce = await load(t, 'tiny-cross-encoder', options)
    t.equal(ce.maxLength, golden.maxLength, 'max length from config.json')
    for (const [query, cases] of byQuery(golden.cases)) {
      const { scores, truncatedPassages, batchMs } = await ce.score(query, cases.map((c) => c.passage))
      assertClose(t, scores, cases.map((c) => c.logits[0]!), `${JSON.stringify(options)} ${query}`)
      t.equal(truncatedPassages, cases.filter((c) => c.truncated).length, 'truncated pairs counted')
      t.equal(batchMs.length, Math.ceil(cases.length / options.batchSize), 'one ONNX run per batch')
    }
  }
})

t.test('a mixed-length batch with one over-long passage scores each pair as if alone', async (t) => {
  const golden = readGolden('tiny-cross-encoder')
  const ce = await load(t, 'tiny-cross-encoder', { batchSize: 8 })
  const long = golden.cases.find((c) => c.truncated)!
  t.ok(long.ids.length === golden.maxLength, 'the golden long pair was cut to the model maximum')
  // Same query for all: the long passage pads every other row of the batch up to 128 tokens.
  const passages = [golden.cases[0]!.passage, long.passage, golden.cases[1]!.passage, golden.cases[3]!.passage]
  const together = await ce.score(long.query, passages)
  t.equal(together.batchMs.length, 1)
  t.equal(together.truncatedPassages, 1)
  const alone = await Promise.all(passages.map((p) => ce.score(long.query, [p])))
  assertClose(t, together.scores, alone.map((a) => a.scores[0]!), 'padding does not change the logits')
  assertClose(t, [together.scores[1]!], long.logits, 'the truncated pair matches the golden')
})

t.test('two-class cross-encoder scores logit[1] - logit[0] and feeds no token_type_ids', async (t) => {
  const golden = readGolden('tiny-cross-encoder-2class')
  t.notOk(golden.inputs.includes('token_type_ids'), 'the fixture graph declares no token_type_ids')
  const ce = await load(t, 'tiny-cross-encoder-2class', { batchSize: 3 })
  for (const [query, cases] of byQuery(golden.cases)) {
    const { scores } = await ce.score(query, cases.map((c) => c.passage))
    assertClose(t, scores, cases.map((c) => c.logits[1]! - c.logits[0]!), query)
  }
})

t.test('rank reorders by logit, cuts to topN, keeps earlier stage scores', async (t) => {
  const golden = readGolden('tiny-cross-encoder')
  const ce = await load(t, 'tiny-cross-encoder')
  const query = 'capital of france'
  const cases = golden.cases.filter((c) => c.query === query)
  const input = cases.map((c, i) => candidate(`d${i}`, c.passage, 0.1 * i))
  const expected = cases
    .map((c, i) => ({ id: `d${i}`, logit: c.logits[0]! }))
    .sort((a, b) => b.logit - a.logit)
  const all = await ce.rank(query, input)
  t.same(all.candidates.map((c) => c.id), expected.map((e) => e.id))
  all.candidates.forEach((c, i) => {
    t.ok(Math.abs(c.score - expected[i]!.logit) < TOLERANCE, 'score is the logit')
    t.equal(c.scores.cross_encoder, c.score, 'raw score recorded under cross_encoder')
    t.equal(c.scores.dense, input.find((x) => x.id === c.id)!.scores.dense, 'earlier stage scores kept')
  })
  t.equal(input[0]!.scores.cross_encoder, undefined, 'input candidates are not mutated')
  const top1 = await ce.rank(query, input, { topN: 1 })
  t.same(top1.candidates.map((c) => c.id), [expected[0]!.id])
  t.same((await ce.rank(query, [])).candidates, [])
  await t.rejects(ce.rank(query, input, { topN: 0 }), { code: 'invalid_value' })
})

t.test('maxLength can only lower the model limit; shorter limits truncate more', async (t) => {
  const golden = readGolden('tiny-cross-encoder')
  t.equal((await load(t, 'tiny-cross-encoder', { maxLength: 4096 })).maxLength, golden.maxLength)
  const short = await load(t, 'tiny-cross-encoder', { maxLength: 12 })
  const { truncatedPassages } = await short.score('what is hnsw', golden.cases.map((c) => c.passage))
  t.equal(truncatedPassages, golden.cases.filter((c) => c.ids.length > 12).length)
})

t.test('aborts between batches, and bad shapes or folders are clear errors', async (t) => {
  const ce = await load(t, 'tiny-cross-encoder', { batchSize: 1 })
  const controller = new AbortController()
  controller.abort(new Error('budget spent'))
  await t.rejects(ce.score('q', ['a', 'b'], controller.signal), /budget spent/)
  t.throws(() => relevanceLogits(new Float32Array(6), [2, 3], 2), /shape \[2, 3\]; expected \[2, 1\] or \[2, 2\]/)
  t.same([...relevanceLogits(Float32Array.from([1, 2]), [2], 2)], [1, 2], 'a squeezed [B] output is accepted')
  const empty = await mkdtemp(path.join(os.tmpdir(), 'funnel-empty-'))
  t.teardown(() => import('node:fs/promises').then((fs) => fs.rm(empty, { recursive: true })))
  await t.rejects(CrossEncoderReranker.load({ modelDir: empty }), /ENOENT|no ONNX model/)
  await t.rejects(CrossEncoderReranker.load({ modelDir: empty, batchSize: 0 }), /batchSize must be a positive integer/)
})
