import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import type { Candidate } from '../../src/candidate.js'
import { ListwisePromptBuilder } from '../../src/rerank/listwise/prompt.js'
import { findGgufFile } from '../../src/rerank/llm/gguf-file.js'
import { GgufModel } from '../../src/rerank/llm/gguf-model.js'
import { LlamaCppListwiseBackend } from '../../src/rerank/llm/llama-cpp-listwise-backend.js'
import { loadLlamaCppListwise } from '../../src/rerank/llm/llama-cpp-rerankers.js'
import { PointwiseLlmReranker } from '../../src/rerank/llm/pointwise-llm-reranker.js'
import { createReranker } from '../../src/rerank/registry.js'

// A 2-layer random llama GGUF (scripts/fixtures/build_tiny_gguf.py) with planted answers: after '['
// it prefers identifier 'C'; passages change the other probabilities through attention.
const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/models/tiny-gguf/tiny-chatml.gguf')
const candidates = (texts: string[]): Candidate[] => texts.map((text, i) => ({ id: `d${i}`, text, score: 0, scores: {} }))
const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))

async function listwiseParts(t: Test) {
  const lm = await GgufModel.load(fixture, { threads: 1 })
  const backend = await LlamaCppListwiseBackend.create(lm, { contextSize: 1024 })
  t.teardown(() => backend.dispose())
  return { backend, prompts: new ListwisePromptBuilder(lm.tokenizer, lm.chatTemplate, { contextLength: backend.contextSize }) }
}

t.test('listwise on llama.cpp: identifier log-probabilities from one evaluation, the planted passage first', async (t) => {
  const reranker = await loadLlamaCppListwise({ model: fixture, threads: 1, contextSize: 1024 })
  t.teardown(() => reranker.dispose())
  const { candidates: ranked, windows } = await reranker.rank('which one', candidates(['alpha', 'beta', 'gamma', 'delta', 'epsilon']))
  t.equal(ranked[0]!.id, 'd2', "slot C's passage leads")
  t.equal(windows!.length, 1)
  const logits = windows![0]!.logits as number[]
  t.ok(logits.every((l) => l <= 1e-9), 'log-probabilities', { logits })
  t.ok(logits[2]! > -0.01 && logits.filter((_, i) => i !== 2).every((l) => l < -5), 'C holds nearly all the mass')
  const logOdds = (slot: number) => logits[slot]! - Math.log(logits.reduce((s, z, j) => (j === slot ? s : s + Math.exp(z)), 0))
  ranked.forEach((c, k) => {
    t.ok(Math.abs(c.scores.listwise! - logOdds(windows![0]!.permutation[k]!)) < 1e-9, `${c.id}: its window log-odds`)
  })
  t.ok(ranked[0]!.scores.listwise! > 4, "C's log-odds of coming first are high")
})

t.test('a window scored after another (reused prompt head) equals the same window on a fresh context', async (t) => {
  const warm = await listwiseParts(t)
  const fresh = await listwiseParts(t)
  const first = warm.prompts.build('shared query', ['one passage', 'another passage', 'third'])
  const second = warm.prompts.build('shared query', ['different text here', 'and more', 'third', 'fourth'])
  await warm.backend.identifierScores(first)
  const reused = await warm.backend.identifierScores(second)
  const clean = await fresh.backend.identifierScores(second)
  t.ok(maxAbsDiff(reused, clean) < 1e-3, 'same log-probabilities', { reused, clean })
  const again = await warm.backend.identifierScores(second)
  t.ok(maxAbsDiff(again, clean) < 1e-3, 'an identical prompt re-evaluates its last token')
  t.not(reused[0], (await warm.backend.identifierScores(first))[0], 'passages do change the scores')
})

t.test('pointwise yes/no: parallel sequences give the per-passage answers of one sequence', async (t) => {
  const texts = ['alpha beta', 'gamma', 'a longer passage about delta and epsilon', 'zeta', 'eta theta iota']
  const one = await PointwiseLlmReranker.create(await GgufModel.load(fixture, { threads: 1 }), { parallel: 1 })
  const three = await PointwiseLlmReranker.create(await GgufModel.load(fixture, { threads: 1 }), { parallel: 3 })
  t.teardown(async () => {
    await one.dispose()
    await three.dispose()
  })
  const sequential = (await one.judge('which one', texts)).map((j) => j.logOdds)
  const parallel = (await three.judge('which one', texts)).map((j) => j.logOdds)
  t.ok(maxAbsDiff(sequential, parallel) < 1e-3, 'same log-odds', { sequential, parallel })
  t.ok(new Set(sequential.map((x) => x.toFixed(3))).size > 1, 'passages change the answer')

  const { candidates: ranked, truncatedPassages } = await three.rank('which one', candidates(texts), { topN: 3 })
  t.equal(ranked.length, 3)
  t.equal(truncatedPassages, 0)
  const best = [...sequential].sort((a, b) => b - a).slice(0, 3)
  t.ok(maxAbsDiff(ranked.map((c) => c.scores.cross_encoder!), best) < 1e-3, 'sorted by log P(yes) - log P(no)')
  t.same(ranked.map((c) => c.score), ranked.map((c) => c.scores.cross_encoder))
})

t.test('pointwise: a long passage is cut to maxPassageTokens; concurrent calls are served one after another', async (t) => {
  const judge = await PointwiseLlmReranker.create(await GgufModel.load(fixture, { threads: 1 }), { parallel: 2, maxPassageTokens: 16 })
  t.teardown(() => judge.dispose())
  const long = 'word '.repeat(400)
  const { truncated, ids } = judge.promptIds('q', long)
  t.ok(truncated)
  t.ok(ids.length < judge.promptIds('q', 'word').ids.length + 20, 'about 16 passage tokens')
  const [a, b] = await Promise.all([judge.judge('q', ['x', long]), judge.judge('q', ['x', long])])
  t.same(a.map((j) => j.logOdds.toFixed(4)), b.map((j) => j.logOdds.toFixed(4)))
  t.same(a.map((j) => j.truncated), [false, true])
})

t.test('GGUF files: a folder resolves to its .gguf; a broken file is an error naming it', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-gguf-'))
  await t.rejects(findGgufFile(dir), /no \.gguf file in/)
  await copyFile(fixture, path.join(dir, 'model.gguf'))
  t.equal(await findGgufFile(dir), path.join(dir, 'model.gguf'))
  const broken = path.join(dir, 'broken.gguf')
  await writeFile(broken, Buffer.from('GGUF this is not a model'))
  t.equal(await findGgufFile(dir), broken, 'the smallest when there are several')
  await t.rejects(GgufModel.load(broken), { message: `${broken}: unsupported GGUF version 1768453152 (expected 2 or 3)` })
  const truncated = path.join(dir, 'truncated.gguf')
  await writeFile(truncated, (await readFile(fixture)).subarray(0, 60_000))
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  await t.rejects(GgufModel.load(truncated), new RegExp(`^${escape(truncated)}: llama\\.cpp could not load the GGUF model`))
  await t.rejects(createReranker('pointwise-llama-cpp', { model: path.join(dir, 'missing.gguf') }), /no GGUF model at/)
  const reranker = await createReranker('listwise-llama-cpp', { model: path.join(dir, 'model.gguf'), threads: 1, contextSize: 512 })
  t.equal(reranker.name, 'listwise:model')
  await reranker.dispose()
})
