import t from 'tap'
import { cutSortedBatches, paddingRatio } from '../../src/inference/length-buckets.js'

t.test('without a padding bound, cuts every maxBatch inputs (the current EmbeddingModel.embed rule)', async (t) => {
  t.same(cutSortedBatches([1, 2, 3, 4, 5], 2), [
    [0, 2],
    [2, 4],
    [4, 5],
  ])
  t.same(cutSortedBatches([], 32), [])
  t.same(cutSortedBatches([7], 32), [[0, 1]])
})

t.test('with a padding bound, also cuts where a run would pad past it', async (t) => {
  const lengths = [10, 11, 12, 40, 41]
  const cuts = cutSortedBatches(lengths, 32, 1.25)
  t.same(cuts, [
    [0, 3],
    [3, 5],
  ])
  t.ok(paddingRatio(lengths, cuts) <= 1.25, `padding ${paddingRatio(lengths, cuts).toFixed(3)} within the bound`)
  t.equal(paddingRatio(lengths, [[0, 5]]), (5 * 41) / 114, 'one run of all five pads to 41 tokens each')
  t.same(cutSortedBatches(lengths, 2, 1.25), [
    [0, 2],
    [2, 3],
    [3, 5],
  ], 'maxBatch still applies')
})

t.test('every input lands in exactly one run, in order, for any lengths', async (t) => {
  let seed = 7
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  for (let trial = 0; trial < 50; trial++) {
    const lengths = Array.from({ length: Math.floor(random() * 100) }, () => 3 + Math.floor(random() * 250)).sort((a, b) => a - b)
    const maxBatch = 1 + Math.floor(random() * 40)
    const ratio = 1 + random()
    const cuts = cutSortedBatches(lengths, maxBatch, ratio)
    const covered = cuts.flatMap(([s, e]) => Array.from({ length: e - s }, (_, i) => s + i))
    if (JSON.stringify(covered) !== JSON.stringify(lengths.map((_, i) => i))) t.fail(`trial ${trial}: runs do not cover the inputs once, in order`)
    if (cuts.some(([s, e]) => e - s > maxBatch || e <= s)) t.fail(`trial ${trial}: a run is empty or larger than ${maxBatch}`)
    // A run of one input has no padding, so only multi-input runs can break the bound.
    if (cuts.some(([s, e]) => e - s > 1 && paddingRatio(lengths, [[s, e]]) > ratio + 1e-12)) t.fail(`trial ${trial}: a run pads past ${ratio}`)
  }
  t.pass('50 random cases hold the invariants')
})

t.test('bad arguments are refused with the allowed values', async (t) => {
  t.throws(() => cutSortedBatches([1], 0), /maxBatch: 0 is not allowed; use an integer >= 1/)
  t.throws(() => cutSortedBatches([1], 4, 0.5), /maxPaddingRatio: 0.5 is not allowed; use a number >= 1/)
  t.throws(() => cutSortedBatches([3, 1], 4), /sortedLengths: not sorted ascending at index 1 \(3 then 1\)/)
})
