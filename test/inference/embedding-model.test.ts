import t, { type Test } from 'tap'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { l2Normalize } from '../../src/retrieval/vector-math.js'
import { fixtureModelDir, readGolden, type EmbedderGolden } from '../helpers/fixture-models.js'

const close = (t: Test, actual: Float32Array, expected: number[], tol: number, msg: string) => {
  const worst = Math.max(...expected.map((v, i) => Math.abs(v - actual[i]!)))
  t.ok(worst < tol, `${msg} (max abs diff ${worst.toExponential(2)})`)
}

for (const name of ['tiny-bert-mean', 'tiny-bert-cls'] as const) {
  t.test(`${name}: batched, length-sorted embeddings match the PyTorch golden`, async (t) => {
    const golden = readGolden(name) as EmbedderGolden
    const model = await EmbeddingModel.load(await fixtureModelDir(name), { id: name, batchSize: 4 })
    t.teardown(() => model.dispose())
    t.equal(model.pooling, golden.pooling, 'pooling read from 1_Pooling/config.json')
    t.equal(model.dims, golden.hiddenSize)
    t.equal(model.maxLength, golden.maxLength)
    const texts = golden.cases.map((c) => c.text)
    const out = await model.embed(texts)
    t.same(out.truncated, golden.cases.map((c) => c.truncated), 'truncation reported per input')
    t.same(out.tokenCounts, golden.cases.map((c) => c.ids.length))
    golden.cases.forEach((c, i) => {
      const expected = Array.from(l2Normalize(Float32Array.from(c.pooled)))
      close(t, out.vectors[i]!, expected, 1e-4, `"${c.text.slice(0, 20)}"`)
    })
    const single = await model.embed([texts[1]!])
    close(t, single.vectors[0]!, Array.from(out.vectors[1]!), 1e-5, 'padding in a batch does not change a vector')
  })
}

t.test('query/document prefixes are applied per input kind', async (t) => {
  const dir = await fixtureModelDir('tiny-bert-mean')
  const plain = await EmbeddingModel.load(dir, { id: 'plain' })
  const prefixed = await EmbeddingModel.load(dir, { id: 'e5-like', prefixes: { query: 'query: ', document: 'passage: ' } })
  t.teardown(async () => {
    await plain.dispose()
    await prefixed.dispose()
  })
  const [q] = (await prefixed.embed(['solar power'], 'query')).vectors
  const [expected] = (await plain.embed(['query: solar power'])).vectors
  close(t, q!, Array.from(expected!), 1e-6, 'query prefix prepended')
  const [d] = (await prefixed.embed(['solar power'], 'document')).vectors
  const [expectedDoc] = (await plain.embed(['passage: solar power'])).vectors
  close(t, d!, Array.from(expectedDoc!), 1e-6, 'document prefix prepended')
})

t.test('a folder without an ONNX file is refused with the paths looked at', async (t) => {
  await t.rejects(EmbeddingModel.load('/nonexistent-dir', { id: 'x' }), /no ONNX model in \/nonexistent-dir \(looked for onnx\/model.onnx and model.onnx\)/)
})

t.test('runs are cut where padding would pass maxPaddingRatio, and vectors do not change', async (t) => {
  const runs: Record<string, number[]> = { cut: [], count: [] }
  const dir = await fixtureModelDir('tiny-bert-mean')
  const cut = await EmbeddingModel.load(dir, { id: 'cut', batchSize: 32, maxPaddingRatio: 1.2, onRun: (_ms, size) => runs.cut!.push(size) })
  const byCount = await EmbeddingModel.load(dir, { id: 'count', batchSize: 32, maxPaddingRatio: Infinity, onRun: (_ms, size) => runs.count!.push(size) })
  t.teardown(async () => {
    await cut.dispose()
    await byCount.dispose()
  })
  runs.cut!.length = 0
  runs.count!.length = 0
  // Four short texts and four long ones: one run of 8 would pad the short ones to the long length.
  const short = ['a cat', 'a dog', 'the sun', 'red fish']
  const long = short.map((s) => `${s} ${'and a very long tail of many more words '.repeat(6)}`)
  const texts = [short[0]!, long[0]!, short[1]!, long[1]!, short[2]!, long[2]!, short[3]!, long[3]!]
  const a = await cut.embed(texts)
  const b = await byCount.embed(texts)
  t.same(runs.count, [8], 'Infinity cuts by count only: one run of 8')
  t.same(runs.cut, [4, 4], 'the padding limit splits short from long')
  a.vectors.forEach((v, i) => close(t, v, Array.from(b.vectors[i]!), 1e-5, `text ${i} embeds the same either way`))
})
