import path from 'node:path'
import t from 'tap'
import { bertFeeds, OrtFloor, ortSessionOptions } from '../../../bench/lib/ort-floor.js'
import { fixtureModelDir, readGolden } from '../../helpers/fixture-models.js'

const row = (ids: number[]) => ({ ids, typeIds: ids.map(() => 0), truncatedTokens: 0 })

t.test('bertFeeds pads right to the longest row, with a mask of the real tokens', async (t) => {
  const feeds = bertFeeds([row([101, 7, 102]), row([101, 102])], ['input_ids', 'attention_mask', 'token_type_ids'])
  t.same(feeds.input_ids!.dims, [2, 3])
  t.same([...(feeds.input_ids!.data as BigInt64Array)], [101n, 7n, 102n, 101n, 102n, 0n])
  t.same([...(feeds.attention_mask!.data as BigInt64Array)], [1n, 1n, 1n, 1n, 1n, 0n])
  t.same(Object.keys(bertFeeds([row([1])], ['input_ids'])), ['input_ids'], 'only the inputs the model has')
})

t.test('ortSessionOptions: threads and spinning as asked, graph optimisation all by default', async (t) => {
  t.same(ortSessionOptions({ threads: 2, allowSpinning: false }), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 2,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  })
  t.same(ortSessionOptions({ threads: 0 }), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' }, "0 threads keeps onnxruntime's default")
})

t.test('OrtFloor runs the fixture embedder: feeds per batch, output dims, a timing', async (t) => {
  const golden = readGolden('tiny-bert-mean')
  const floor = await OrtFloor.open(path.join(await fixtureModelDir('tiny-bert-mean'), golden.onnx), { threads: 1 }, 'last_hidden_state')
  t.teardown(() => floor.release())
  const rows = golden.cases.slice(0, 3).map((c) => ({ ids: c.ids, typeIds: c.typeIds, truncatedTokens: 0 }))
  const feeds = floor.feeds(rows, 2)
  t.equal(feeds.length, 2, 'three rows in batches of two')
  const output = await floor.run(feeds[0]!)
  t.same(output.dims, [2, Math.max(rows[0]!.ids.length, rows[1]!.ids.length), golden.hiddenSize])
  const seconds = await floor.time(feeds)
  t.ok(seconds > 0 && seconds < 60, `timed ${seconds} s`)
})
