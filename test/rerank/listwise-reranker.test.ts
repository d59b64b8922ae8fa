import t, { type Test } from 'tap'
import type { Candidate } from '../../src/candidate.js'
import { ListwiseReranker, windowLogOdds } from '../../src/rerank/listwise/listwise-reranker.js'
import { OnnxCausalLmBackend } from '../../src/rerank/listwise/onnx-causal-lm.js'
import { ListwisePromptBuilder } from '../../src/rerank/listwise/prompt.js'
import { createReranker } from '../../src/rerank/registry.js'
import type { Reranker } from '../../src/rerank/reranker.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'
import { completionsAnswer, startLlmServer } from './helpers/llm-server.js'

const candidates = (n: number, text: (i: number) => string): Candidate[] =>
  Array.from({ length: n }, (_, i) => ({ id: `d${i}`, text: text(i), score: 1 - i / n, scores: { fused: 1 - i / n } }))

async function tracked<R extends Reranker>(t: Test, reranker: Promise<R>): Promise<R> {
  const r = await reranker
  t.teardown(() => r.dispose())
  return r
}

t.test('ONNX listwise over 25 candidates: two windows, final order follows the front window', async (t) => {
  // 20 fenced passages need more than the fixture's 512 positions; the window mechanics are the same.
  const reranker = await tracked(t, createReranker('listwise-onnx', { modelDir: await fixtureModelDir('tiny-causal-lm'), prompt: { fence: false } }))
  t.match(reranker.name, /^listwise:funnel-tiny-causal-lm-/, 'named after the model folder')
  t.equal(reranker.scoreKey, 'listwise')
  const input = candidates(25, (i) => `${i} ${i % 3 === 0 ? 'Paris, France' : 'a river'}`)
  const { candidates: ranked, windows, truncatedPassages } = await reranker.rank('capital of france', input)
  t.equal(truncatedPassages, 0)
  t.same(windows!.map((w) => [w.start, w.end]), [[5, 25], [0, 15]])
  t.same(windows![0]!.ids, input.slice(5).map((c) => c.id), 'the back window saw the input order')
  for (const w of windows!) {
    const sorted = w.permutation.map((slot) => w.logits[slot]!)
    t.same(sorted, [...sorted].sort((a, b) => b - a), 'each window is ordered by descending identifier logit')
    t.ok(w.ms >= 0)
  }
  const front = windows![1]!
  t.same(ranked.slice(0, 15).map((c) => c.id), front.permutation.map((slot) => front.ids[slot]))
  const logOdds = (logits: readonly number[], slot: number) =>
    logits[slot]! - Math.log(logits.reduce((s, z, j) => (j === slot ? s : s + Math.exp(z)), 0))
  ranked.slice(0, 15).forEach((c, k) => {
    const slot = front.permutation[k]!
    t.ok(Math.abs(c.scores.listwise! - logOdds(front.logits as number[], slot)) < 1e-9, 'raw score: the log-odds of coming first in the front window')
    t.equal(c.score, 1 / (k + 1), 'score decreases with rank')
    t.equal(c.scores.fused, input.find((x) => x.id === c.id)!.scores.fused, 'earlier scores kept')
  })
  t.same([...ranked.map((c) => c.id)].sort(), [...input.map((c) => c.id)].sort())
  const top3 = await reranker.rank('capital of france', input, { topN: 3 })
  t.same(top3.candidates.map((c) => c.id), ranked.slice(0, 3).map((c) => c.id), 'deterministic, and cut to topN')
})

t.test('the KV-cache export ranks identically; truncated passages are counted once across windows', async (t) => {
  const input = candidates(12, (i) => `Passage ${i}: ` + 'the capital of France is Paris. '.repeat(10 + i))
  const options = { windowSize: 8, stride: 4 }
  const plain = await tracked(t, createReranker('listwise-onnx', { modelDir: await fixtureModelDir('tiny-causal-lm'), ...options }))
  const kv = await tracked(t, createReranker('listwise-onnx', { modelDir: await fixtureModelDir('tiny-causal-lm-kv'), ...options }))
  const a = await plain.rank('capital of france', input)
  const b = await kv.rank('capital of france', input)
  t.same(b.candidates.map((c) => c.id), a.candidates.map((c) => c.id))
  t.same(a.windows!.map((w) => [w.start, w.end, w.truncatedPassages]), [[4, 12, 8], [0, 8, 8]], 'every passage had to be cut')
  t.equal(a.truncatedPassages, 12, '4 passages sat in both windows but count once')
  const short = await plain.rank('capital of france', candidates(12, (i) => `${i} Paris`))
  t.equal(short.truncatedPassages, 0)
})

t.test('window log-odds: over the finite logits of the last window, the same after a shift, none without a logit', (t) => {
  const steps = [{ logits: [2, 0, undefined, -1] }, { logits: [1, 1] }]
  const expected = 2 - Math.log(Math.exp(0) + Math.exp(-1))
  t.ok(Math.abs(windowLogOdds(steps, { step: 0, slot: 0 })! - expected) < 1e-12, 'the slot without a logit is left out of the sum')
  const shifted = [{ logits: [102, 100, undefined, 99] }]
  t.ok(Math.abs(windowLogOdds(shifted, { step: 0, slot: 0 })! - expected) < 1e-9, 'adding a constant to every logit changes nothing')
  t.equal(windowLogOdds(steps, { step: 1, slot: 1 }), 0, 'two equal logits: even odds')
  t.equal(windowLogOdds(steps, { step: 0, slot: 2 }), undefined, 'no logit, no log-odds')
  t.equal(windowLogOdds(steps, undefined), undefined)
  t.equal(windowLogOdds([{ logits: [5] }], { step: 0, slot: 0 }), 40, 'a window of one is clipped, not infinite')
  t.end()
})

t.test('window sizes outside 2..20 are refused', async (t) => {
  const dir = await fixtureModelDir('tiny-causal-lm')
  const prompts = await ListwisePromptBuilder.fromDirectory(dir)
  const lm = await OnnxCausalLmBackend.load({ modelDir: dir })
  t.teardown(() => lm.dispose())
  t.throws(() => new ListwiseReranker(lm, prompts, { windowSize: 21 }), /windowSize must be an integer in \[2, 20\], got 21/)
  t.throws(() => new ListwiseReranker(lm, prompts, { windowSize: 1 }), RangeError)
})

t.test('remote listwise: a server that reads the prompt brings the relevant passages to the top', async (t) => {
  // Stands in for an LLM: finds "[X] ... relevance N" lines in the prompt and answers with
  // logprobs ordered by N, leaving passages with relevance 0 out of the top-k.
  const server = await startLlmServer(t, (request) => {
    const logprobs: Record<string, number> = {}
    for (const [, label, relevance] of (request.body.prompt as string).matchAll(/\[([A-T])\] .*?relevance (\d+)/g)) {
      if (Number(relevance) > 0) logprobs[label!] = -10 + Number(relevance) / 10
    }
    return { json: completionsAnswer(logprobs) }
  })
  const reranker = await tracked(
    t,
    createReranker('listwise-remote', {
      tokenizerDir: await fixtureModelDir('tiny-causal-lm'),
      prompt: { fence: false },
      server: { baseUrl: server.baseUrl, model: 'first' },
      name: 'first-remote',
    }),
  )
  // Relevance rises down the list; every fifth passage is irrelevant (absent from top-k).
  const input = candidates(30, (i) => `Passage ${i} relevance ${i % 5 === 0 ? 0 : i}`)
  const { candidates: ranked, windows } = await reranker.rank('q', input, { topN: 10 })
  t.equal(reranker.name, 'first-remote')
  t.equal(server.requests.length, 2, 'one request per window')
  t.same(ranked.map((c) => c.id), ['d29', 'd28', 'd27', 'd26', 'd24', 'd23', 'd22', 'd21', 'd19', 'd18'])
  t.ok(windows![0]!.logits.some((l) => l === undefined), 'identifiers missing from the top-k are reported as undefined')
})
