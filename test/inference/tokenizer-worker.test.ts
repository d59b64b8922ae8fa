import t from 'tap'
import { EmbeddingModel, TOKENIZE_ON_WORKER_CHARS } from '../../src/inference/embedding-model.js'
import { TextTokenizer } from '../../src/inference/tokenizer.js'
import { TokenizerWorker } from '../../src/inference/tokenizer-worker.js'
import { BERT_TOKENIZER_DIR, fixtureModelDir } from '../helpers/fixture-models.js'

const words = 'river stone cloud engine protein galaxy market violin harbour glacier unbelievably tokenization'.split(' ')
const text = (n: number, seed: number) => Array.from({ length: n }, (_, i) => words[(i * 7 + seed) % words.length]).join(' ')

t.test('the worker encodes exactly as TextTokenizer.encode does, long texts truncated alike', async (t) => {
  const worker = await TokenizerWorker.start(BERT_TOKENIZER_DIR)
  t.teardown(() => worker.close())
  const local = await TextTokenizer.fromDirectory(BERT_TOKENIZER_DIR)
  const texts = ['', 'hello world', text(50, 1), text(3000, 2), `naïve café ${text(700, 3)}`]
  for (const maxLength of [16, 128, 512]) {
    const remote = await worker.encodeMany(texts, maxLength)
    t.same(remote, texts.map((x) => local.encode(x, maxLength)), `maxLength ${maxLength}`)
    t.ok(remote.every((e) => e.ids.length <= maxLength))
  }
  t.ok(worker.encodedTexts >= 15)
})

t.test('an embedder whose session runs on a worker tokenises large calls there and gets the same vectors (issue 13, finding 4)', async (t) => {
  const dir = await fixtureModelDir('tiny-bert-mean')
  const onWorker = await EmbeddingModel.load(dir, { id: 'w', session: { worker: true } })
  const inThread = await EmbeddingModel.load(dir, { id: 'm' })
  t.teardown(async () => {
    await onWorker.dispose()
    await inThread.dispose()
  })
  const batch = Array.from({ length: 40 }, (_, i) => text(80 + i * 5, i))
  t.ok(batch.join('').length >= TOKENIZE_ON_WORKER_CHARS, 'the batch is large enough to go to the worker')
  const a = await onWorker.embed(batch, 'document')
  t.equal(onWorker.textsTokenizedOnWorker, 40, 'all 40 texts were tokenised on the worker')
  const b = await inThread.embed(batch, 'document')
  t.equal(inThread.textsTokenizedOnWorker, 0, 'a model without a session worker has no tokenizer worker')
  t.same(a.tokenCounts, b.tokenCounts)
  t.same(a.truncated, b.truncated)
  a.vectors.forEach((v, i) => {
    const w = b.vectors[i]!
    t.ok(v.every((x, j) => Math.abs(x - w[j]!) < 1e-5), `vector ${i} equal`)
  })
  await onWorker.embed(['one short query'], 'query')
  t.equal(onWorker.textsTokenizedOnWorker, 40, 'a small call is tokenised on the calling thread')
})

t.test('a closed worker rejects, and a folder without a tokenizer fails at start', async (t) => {
  const worker = await TokenizerWorker.start(BERT_TOKENIZER_DIR)
  await worker.close()
  await t.rejects(worker.encodeMany(['x'], 8), /closed/)
  await t.rejects(TokenizerWorker.start('/nonexistent-folder'), /tokenizer worker/)
})
