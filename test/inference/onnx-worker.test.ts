import path from 'node:path'
import t from 'tap'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { OnnxSession, padToTensor, tensorToFloat32 } from '../../src/inference/onnx.js'
import { fixtureModelDir, readGolden, type EmbedderGolden } from '../helpers/fixture-models.js'

t.test('a worker-thread session embeds exactly what an in-thread one does', async (t) => {
  const dir = await fixtureModelDir('tiny-bert-mean')
  const onWorker = await EmbeddingModel.load(dir, { id: 'worker', session: { worker: true } })
  const inThread = await EmbeddingModel.load(dir, { id: 'thread' })
  t.teardown(async () => {
    await onWorker.dispose()
    await inThread.dispose()
  })
  const texts = (readGolden('tiny-bert-mean') as EmbedderGolden).cases.map((c) => c.text)
  const [a, b] = await Promise.all([onWorker.embed(texts), inThread.embed(texts)])
  t.equal(a.vectors.length, texts.length)
  a.vectors.forEach((vector, i) => t.same(Array.from(vector), Array.from(b.vectors[i]!), `text ${i}: identical vector`))
  t.same(a.tokenCounts, b.tokenCounts)
})

t.test('the event loop keeps turning while the worker runs, and runs keep their order', async (t) => {
  const dir = await fixtureModelDir('tiny-bert-mean')
  const session = await OnnxSession.open(path.join(dir, 'onnx/model.onnx'), { worker: true })
  t.teardown(() => session.dispose())
  t.ok(session.onWorker)
  t.ok(session.inputNames.includes('input_ids'), 'input names come from the worker')
  t.equal(session.inputInfo('input_ids')?.type, 'int64', 'and so does metadata')
  const feeds = (length: number) => {
    const ids = [Array.from({ length }, (_, i) => 1000 + i)]
    return { input_ids: padToTensor(ids).tensor, attention_mask: padToTensor(ids.map((r) => r.map(() => 1))).tensor, token_type_ids: padToTensor(ids.map((r) => r.map(() => 0))).tensor }
  }
  let immediates = 0
  let spinning = true
  const spin = () => {
    immediates++
    if (spinning) setImmediate(spin)
  }
  setImmediate(spin)
  const lengths = Array.from({ length: 40 }, (_, i) => 2 + (i % 30))
  const outputs = await Promise.all(lengths.map((length) => session.run(feeds(length))))
  spinning = false
  t.ok(immediates > 1, `the loop turned ${immediates} times during 40 runs`)
  outputs.forEach((out, i) => t.equal(out.last_hidden_state!.dims[1], lengths[i], `run ${i} answered with its own sequence length`))
})

t.test('a model the worker cannot load is refused, and a released session refuses runs', async (t) => {
  await t.rejects(OnnxSession.open('/nonexistent/model.onnx', { worker: true }), /nonexistent|No such file|Load model/i)
  const dir = await fixtureModelDir('tiny-bert-mean')
  const session = await OnnxSession.open(path.join(dir, 'onnx/model.onnx'), { worker: true })
  await session.dispose()
  await t.rejects(session.run({ input_ids: padToTensor([[1, 2]]).tensor }), /released/)
})

t.test('a run with pool returns [batch, hidden], pooled on the worker exactly as in-thread, from the unpadded tokens only', async (t) => {
  const dir = await fixtureModelDir('tiny-bert-mean')
  const file = path.join(dir, 'onnx/model.onnx')
  const [worker, thread] = await Promise.all([OnnxSession.open(file, { worker: true }), OnnxSession.open(file)])
  t.teardown(async () => {
    await worker.dispose()
    await thread.dispose()
  })
  const rows = [
    [101, 2000, 2001, 2002, 102],
    [101, 2003, 102],
  ]
  const feeds = () => ({
    input_ids: padToTensor(rows).tensor,
    attention_mask: padToTensor(rows.map((r) => r.map(() => 1))).tensor,
    token_type_ids: padToTensor(rows.map((r) => r.map(() => 0))).tensor,
  })
  const raw = (await thread.run(feeds(), ['last_hidden_state'])).last_hidden_state!
  const [batch, tokens, hidden] = raw.dims as [number, number, number]
  const states = tensorToFloat32(raw)
  // The reference: the mean of each row's real tokens, written out here; and the first token for CLS.
  const expectedMean = rows.map((row, b) => {
    const sum = new Float32Array(hidden)
    for (let tok = 0; tok < row.length; tok++) for (let h = 0; h < hidden; h++) sum[h]! += states[(b * tokens + tok) * hidden + h]!
    return Array.from(sum, (v) => Math.fround(v / row.length))
  })
  const lengths = rows.map((r) => r.length)
  for (const session of [worker, thread]) {
    const where = session.onWorker ? 'worker' : 'in-thread'
    const mean = (await session.run(feeds(), ['last_hidden_state'], { output: 'last_hidden_state', mode: 'mean', lengths })).last_hidden_state!
    t.same(mean.dims, [batch, hidden], `${where}: mean comes back [batch, hidden]`)
    t.same([0, 1].map((b) => Array.from(tensorToFloat32(mean).subarray(b * hidden, (b + 1) * hidden))), expectedMean, `${where}: the mean over the real tokens (padding excluded)`)
    const cls = (await session.run(feeds(), ['last_hidden_state'], { output: 'last_hidden_state', mode: 'cls', lengths })).last_hidden_state!
    t.same(Array.from(tensorToFloat32(cls).subarray(hidden, 2 * hidden)), Array.from(states.subarray(tokens * hidden, tokens * hidden + hidden)), `${where}: cls is the row's first token`)
  }
  await t.rejects(worker.run(feeds(), ['last_hidden_state'], { output: 'nope', mode: 'mean', lengths }), /cannot pool output nope/)
  await t.rejects(thread.run(feeds(), ['last_hidden_state'], { output: 'nope', mode: 'mean', lengths }), /cannot pool output nope/)
})
