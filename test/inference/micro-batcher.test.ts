import t, { type Test } from 'tap'
import { EmbeddingModel, type EmbeddingBatch, type InputKind } from '../../src/inference/embedding-model.js'
import { MicroBatcher, type BatchInfo, type EmbedFunction } from '../../src/inference/micro-batcher.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

interface Call {
  texts: readonly string[]
  kind: InputKind | undefined
}

/** Wraps an embed function and records every call that reaches it (each one ONNX run or more). */
function counting(embed: EmbedFunction): { embed: EmbedFunction; calls: Call[] } {
  const calls: Call[] = []
  return {
    calls,
    embed: (texts, kind) => {
      calls.push({ texts: [...texts], kind })
      return embed(texts, kind)
    },
  }
}

/** A model-free embed function: the vector of a text is [its length, its first char code]. */
const fakeEmbed: EmbedFunction = async (texts) => ({
  vectors: texts.map((text) => Float32Array.of(text.length, text.charCodeAt(0))),
  tokenCounts: texts.map((text) => text.length),
  truncated: texts.map((text) => text.length > 10),
})

const maxAbsDiff = (a: Float32Array, b: Float32Array) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))

const TEXTS = [
  'solar power',
  'the cat sat on the mat while the dog slept by the fire',
  'a',
  'photosynthesis converts light energy into chemical energy stored in glucose',
  'mitochondria',
  'What is the capital of France?',
  'Paris is the capital and most populous city of France, with an estimated population of two million',
  'tiny',
]

t.test('on the fixture model, concurrent callers get the vectors sequential calls give, from one merged run', async (t) => {
  const model = await EmbeddingModel.load(await fixtureModelDir('tiny-bert-mean'), { id: 'tiny', batchSize: 32 })
  t.teardown(() => model.dispose())
  const sequential: EmbeddingBatch[] = []
  const requests = [TEXTS.slice(0, 1), TEXTS.slice(1, 4), TEXTS.slice(4, 5), TEXTS.slice(5, 8), [TEXTS[2]!, TEXTS[0]!]]
  for (const texts of requests) sequential.push(await model.embed(texts, 'query'))

  const counter = counting((texts, kind) => model.embed(texts, kind))
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 5, maxBatchTexts: 32 })
  const concurrent = await Promise.all(requests.map((texts) => batcher.embed(texts, 'query')))

  t.equal(counter.calls.length, 1, 'five callers, one call into the model')
  t.equal(counter.calls[0]!.texts.length, 10, 'with every text of every caller')
  requests.forEach((texts, r) => {
    t.equal(concurrent[r]!.vectors.length, texts.length, `caller ${r} gets one vector per text`)
    t.same(concurrent[r]!.tokenCounts, sequential[r]!.tokenCounts, `caller ${r} gets its own token counts`)
    t.same(concurrent[r]!.truncated, sequential[r]!.truncated, `caller ${r} gets its own truncation flags`)
    concurrent[r]!.vectors.forEach((vector, i) => {
      const diff = maxAbsDiff(vector, sequential[r]!.vectors[i]!)
      t.ok(diff < 1e-6, `caller ${r} text ${i} matches the sequential vector (max abs diff ${diff.toExponential(1)})`)
    })
  })
  t.same(batcher.stats(), { batches: 1, callers: 5, texts: 10, largestBatch: 10 })
})

t.test('queries and documents are never merged into one call', async (t) => {
  const model = await EmbeddingModel.load(await fixtureModelDir('tiny-bert-mean'), {
    id: 'e5-like',
    prefixes: { query: 'query: ', document: 'passage: ' },
  })
  t.teardown(() => model.dispose())
  const counter = counting((texts, kind) => model.embed(texts, kind))
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 5 })
  const [q1, d1, q2] = await Promise.all([
    batcher.embed(['solar power'], 'query'),
    batcher.embed(['solar power'], 'document'),
    batcher.embed(['wind power'], 'query'),
  ])
  t.same(
    counter.calls.map((c) => [c.kind, c.texts.length]),
    [
      ['query', 2],
      ['document', 1],
    ],
    'one call per kind, in arrival order of each kind',
  )
  const [expectedQ1, expectedQ2] = (await model.embed(['solar power', 'wind power'], 'query')).vectors
  const [expectedD1] = (await model.embed(['solar power'], 'document')).vectors
  t.ok(maxAbsDiff(q1!.vectors[0]!, expectedQ1!) < 1e-6, 'query prefix applied to the first query')
  t.ok(maxAbsDiff(q2!.vectors[0]!, expectedQ2!) < 1e-6, 'query prefix applied to the second query')
  t.ok(maxAbsDiff(d1!.vectors[0]!, expectedD1!) < 1e-6, 'document prefix applied to the document')
  t.ok(maxAbsDiff(q1!.vectors[0]!, d1!.vectors[0]!) > 1e-3, 'the same text embeds differently as query and document')
})

t.test('a batch never holds more than maxBatchTexts texts', async (t) => {
  const counter = counting(fakeEmbed)
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 5, maxBatchTexts: 4 })
  const results = await Promise.all([...Array.from({ length: 10 }, (_, i) => batcher.embed([`text ${i}`])), batcher.embed(['x', 'y', 'z'])])
  t.same(
    counter.calls.map((c) => c.texts.length),
    [4, 4, 2, 3],
    'ten single-text callers in batches of 4, 4, 2; the three-text caller did not fit beside the last two',
  )
  results.slice(0, 10).forEach((r, i) => t.equal(r.vectors[0]![0], `text ${i}`.length, `caller ${i} gets its own vector`))
  t.same(results[10]!.vectors.map((v) => v[0]), [1, 1, 1])
  t.equal(batcher.stats().largestBatch, 4)
})

t.test('a caller with more than maxBatchTexts texts bypasses the queue and does not hold it up', async (t) => {
  let release: () => void = () => {}
  const counter = counting(async (texts, kind) => {
    if (texts.length > 4) await new Promise<void>((resolve) => (release = resolve))
    return fakeEmbed(texts, kind)
  })
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 1, maxBatchTexts: 4 })
  const bulk = batcher.embed(Array.from({ length: 9 }, (_, i) => `bulk ${i}`), 'document')
  t.same(counter.calls.map((c) => c.texts.length), [9], 'the bulk call went straight through, unsplit')
  const query = await batcher.embed(['query while bulk runs'], 'query')
  t.equal(query.vectors.length, 1, 'a query is answered while the bulk call is still running')
  release()
  t.equal((await bulk).vectors.length, 9)
  t.match(batcher.stats(), { batches: 2, texts: 10, largestBatch: 9 })
})

t.test('the wait is bounded: a lone caller is sent after maxWaitMs, a full batch without waiting', async (t) => {
  const counter = counting(fakeEmbed)
  const waited: number[] = []
  const lone = new MicroBatcher(counter.embed, { maxWaitMs: 40, onBatch: (info) => waited.push(info.queuedMs) })
  const started = performance.now()
  await lone.embed(['alone'])
  const elapsed = performance.now() - started
  t.ok(elapsed >= 39, `a lone caller waited for company (${elapsed.toFixed(1)} ms >= 40 ms)`)
  t.ok(elapsed < 1000, `but not much longer than maxWaitMs (${elapsed.toFixed(1)} ms)`)
  t.ok(waited[0]! >= 39 && waited[0]! < 1000, 'onBatch reports the time queued')

  const full = new MicroBatcher(fakeEmbed, { maxWaitMs: 60_000, maxBatchTexts: 2 })
  const fullStarted = performance.now()
  await Promise.all([full.embed(['a']), full.embed(['b'])])
  const fullElapsed = performance.now() - fullStarted
  t.ok(fullElapsed < 1000, `a full batch is sent at once despite a 60 s wait (${fullElapsed.toFixed(1)} ms)`)
})

t.test('callers arriving within the wait window share a batch; later ones start a new one', async (t) => {
  const counter = counting(fakeEmbed)
  // A wide window, so a busy CI machine cannot stretch the 10 ms gap past it.
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 400 })
  const first = batcher.embed(['first'])
  await new Promise((resolve) => setTimeout(resolve, 10))
  const second = batcher.embed(['second'])
  await Promise.all([first, second])
  const third = await batcher.embed(['third'])
  t.same(
    counter.calls.map((c) => c.texts),
    [['first', 'second'], ['third']],
  )
  t.equal(third.vectors[0]![0], 5)
})

t.test('maxWaitMs 0 still merges the callers of one event-loop turn', async (t) => {
  const counter = counting(fakeEmbed)
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 0 })
  await Promise.all([batcher.embed(['a']), batcher.embed(['b']), batcher.embed(['c'])])
  t.same(counter.calls.map((c) => c.texts.length), [3])
})

t.test('while a call is in flight, new callers queue and go together when it finishes', async (t) => {
  let release: () => void = () => {}
  let active = 0
  let mostActive = 0
  const counter = counting(async (texts, kind) => {
    active++
    mostActive = Math.max(mostActive, active)
    if (texts[0] === 'slow') await new Promise<void>((resolve) => (release = resolve))
    active--
    return fakeEmbed(texts, kind)
  })
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 1 })
  const slow = batcher.embed(['slow'])
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(counter.calls.length, 1, 'the first call is running')
  const queued = [batcher.embed(['q1']), batcher.embed(['q2'])]
  await new Promise((resolve) => setTimeout(resolve, 30))
  const queuedLate = batcher.embed(['q3'])
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(counter.calls.length, 1, 'nothing else starts while the model is busy, even after maxWaitMs')
  release()
  await Promise.all([slow, ...queued, queuedLate])
  t.same(counter.calls.map((c) => c.texts), [['slow'], ['q1', 'q2', 'q3']], 'the queued callers went in one call')
  t.equal(mostActive, 1, 'never more than one call in flight')
})

t.test('maxInFlight above 1 lets calls overlap', async (t) => {
  let active = 0
  let mostActive = 0
  const slowEmbed: EmbedFunction = async (texts, kind) => {
    active++
    mostActive = Math.max(mostActive, active)
    await new Promise((resolve) => setTimeout(resolve, 20))
    active--
    return fakeEmbed(texts, kind)
  }
  const batcher = new MicroBatcher(slowEmbed, { maxWaitMs: 1, maxBatchTexts: 1, maxInFlight: 3 })
  await Promise.all(['a', 'b', 'c', 'd'].map((text) => batcher.embed([text])))
  t.equal(mostActive, 3)
})

const rejectsAll = async (t: Test, promises: Promise<unknown>[], error: Error) => {
  // All handlers go on at once: a rejection left without one until a later await would be unhandled.
  await Promise.all(promises.map((promise, i) => t.rejects(promise, error, `caller ${i} sees the error`)))
}

t.test('an error reaches every caller of the batch, and the batcher keeps working', async (t) => {
  const failure = new Error('onnxruntime exploded')
  let fail = true
  const rejecting = new MicroBatcher(async (texts, kind) => {
    if (fail) throw failure
    return fakeEmbed(texts, kind)
  })
  const infos: BatchInfo[] = []
  const throwing = new MicroBatcher(
    () => {
      throw failure
    },
    { onBatch: (info) => infos.push(info) },
  )
  await rejectsAll(t, [rejecting.embed(['a']), rejecting.embed(['b', 'c']), rejecting.embed(['d'])], failure)
  await rejectsAll(t, [throwing.embed(['a']), throwing.embed(['b'])], failure)
  t.match(infos, [{ callers: 2, texts: 2, failed: true }], 'a synchronous throw is reported as a failed batch')
  fail = false
  const after = await rejecting.embed(['recovered'])
  t.equal(after.vectors.length, 1, 'the next batch succeeds')
})

t.test('an embed function that returns the wrong number of vectors fails the batch', async (t) => {
  const short = new MicroBatcher(async (texts, kind) => fakeEmbed(texts.slice(1), kind))
  await rejectsAll(t, [short.embed(['a']), short.embed(['b'])], new Error('micro-batcher: the embed function returned 1 vectors for 2 texts'))
})

t.test('close sends what is queued, waits for it, then refuses new calls', async (t) => {
  const counter = counting(fakeEmbed)
  const batcher = new MicroBatcher(counter.embed, { maxWaitMs: 60_000 })
  const pending = batcher.embed(['queued'])
  await batcher.close()
  t.equal((await pending).vectors.length, 1, 'the queued caller was answered')
  t.equal(counter.calls.length, 1)
  await t.rejects(batcher.embed(['late']), /micro-batcher: closed/)
})

t.test('empty input is answered without a call; bad options are refused', async (t) => {
  const counter = counting(fakeEmbed)
  const batcher = new MicroBatcher(counter.embed)
  t.same(await batcher.embed([]), { vectors: [], tokenCounts: [], truncated: [] })
  t.equal(counter.calls.length, 0)
  t.throws(() => new MicroBatcher(fakeEmbed, { maxBatchTexts: 0 }), /maxBatchTexts: 0 is not allowed; use a number >= 1/)
  t.throws(() => new MicroBatcher(fakeEmbed, { maxWaitMs: -1 }), /maxWaitMs: -1 is not allowed/)
  t.throws(() => new MicroBatcher(fakeEmbed, { maxInFlight: Number.NaN }), /maxInFlight: NaN is not allowed/)
})
