import t, { type Test } from 'tap'
import { TextTokenizer } from '../../src/inference/tokenizer.js'
import { OnnxCausalLmBackend } from '../../src/rerank/listwise/onnx-causal-lm.js'
import { ListwisePromptBuilder, type ListwisePrompt } from '../../src/rerank/listwise/prompt.js'
import { fixtureModelDir, readGolden } from '../helpers/fixture-models.js'

const TOLERANCE = 1e-4

const maxAbsDiff = (actual: ArrayLike<number>, expected: readonly number[]): number =>
  actual.length !== expected.length ? Infinity : Math.max(...expected.map((e, i) => Math.abs(actual[i]! - e)))

async function load(t: Test, fixture: 'tiny-causal-lm' | 'tiny-causal-lm-kv') {
  const dir = await fixtureModelDir(fixture)
  const prompts = await ListwisePromptBuilder.fromDirectory(dir)
  const tokenizer = await TextTokenizer.fromDirectory(dir)
  const lm = await OnnxCausalLmBackend.load({ modelDir: dir, tokenizer })
  t.teardown(() => lm.dispose())
  return { lm, prompts, tokenizer }
}

for (const fixture of ['tiny-causal-lm', 'tiny-causal-lm-kv'] as const) {
  t.test(`${fixture}: last-position logits match the goldens`, async (t) => {
    const golden = readGolden(fixture)
    const { lm } = await load(t, fixture)
    for (const c of golden.cases) {
      const logits = await lm.lastPositionLogits(c.ids)
      t.equal(logits.length, golden.vocabSize)
      const diff = maxAbsDiff(logits, c.lastLogits)
      t.ok(diff <= TOLERANCE, `${JSON.stringify(c.prompt.slice(0, 30))} within ${TOLERANCE}`, { maxAbsDiff: diff })
    }
  })

  t.test(`${fixture}: identifier scores on the golden chat prompt are the max over each letter's tokens`, async (t) => {
    const golden = readGolden(fixture)
    const { lm, tokenizer } = await load(t, fixture)
    const chat = golden.cases.find((c) => c.messages !== null)!
    const labels = ['A', 'B', 'C']
    const prompt: ListwisePrompt = { messages: [], text: chat.prompt, ids: chat.ids, labels, truncated: [], truncatedPassages: 0 }
    const scores = await lm.identifierScores(prompt)
    const expected = labels.map((label) => {
      const ids = [tokenizer.tokenToId(label)!, tokenizer.tokenToId(`Ġ${label}`)!]
      return Math.max(...ids.map((id) => chat.lastLogits[id]!))
    })
    t.ok(maxAbsDiff(scores, expected) <= TOLERANCE, 'identifier logits', { scores, expected })
  })
}

t.test('with and without the empty KV-cache inputs the FIRST prompt gives the same logits', async (t) => {
  const plain = await load(t, 'tiny-causal-lm')
  const kv = await load(t, 'tiny-causal-lm-kv')
  const prompt = plain.prompts.build('capital of france', ['Paris is the capital of France.', 'A bridge.', 'Berlin is in Germany.'])
  t.same(kv.prompts.build('capital of france', ['Paris is the capital of France.', 'A bridge.', 'Berlin is in Germany.']).ids, prompt.ids)
  const a = await plain.lm.lastPositionLogits(prompt.ids)
  const b = await kv.lm.lastPositionLogits(prompt.ids)
  t.ok(maxAbsDiff(b, [...a]) <= TOLERANCE, 'full vocabulary rows agree', { maxAbsDiff: maxAbsDiff(b, [...a]) })
  t.same(await kv.lm.identifierScores(prompt), await plain.lm.identifierScores(prompt))
})

t.test('an aborted signal stops before the forward pass; a model that is not a causal LM is an error', async (t) => {
  const { lm, prompts, tokenizer } = await load(t, 'tiny-causal-lm')
  const controller = new AbortController()
  controller.abort(new Error('cancelled'))
  await t.rejects(lm.identifierScores(prompts.build('q', ['a', 'b']), controller.signal), /cancelled/)
  const bert = await fixtureModelDir('tiny-cross-encoder')
  await t.rejects(OnnxCausalLmBackend.load({ modelDir: bert }), /identifier 'A' has no token in the vocabulary/, 'uncased vocabulary')
  await t.rejects(
    OnnxCausalLmBackend.load({ modelDir: bert, tokenizer }),
    /unsupported causal-LM inputs \[input_ids, attention_mask, token_type_ids\]/,
  )
})
