import t from 'tap'
import { lowerMedian, median, paddingRatio, percentile, summarizeLatencies } from '../../../bench/lib/stats.js'

t.test('percentiles interpolate linearly between closest ranks (numpy default)', async (t) => {
  // Sorted 1..10; position = 9 * p / 100. p50 -> 4.5 -> 5.5; p95 -> 8.55 -> 9.55; p99 -> 8.91 -> 9.91.
  const values = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]
  t.equal(percentile(values, 50), 5.5)
  t.ok(Math.abs(percentile(values, 95) - 9.55) < 1e-12)
  t.ok(Math.abs(percentile(values, 99) - 9.91) < 1e-12)
  t.equal(percentile(values, 0), 1)
  t.equal(percentile(values, 100), 10)
  t.equal(percentile([42], 99), 42, 'a single sample is every percentile')
  t.same(values, [10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 'the input is not sorted in place')
})

t.test('summary rounds to 0.01 ms', async (t) => {
  t.same(summarizeLatencies([3.333, 1, 2, 100]), {
    count: 4,
    min: 1,
    mean: 26.58, // 106.333 / 4 = 26.58325
    p50: 2.67, // position 1.5 between 2 and 3.333
    p95: 85.5, // position 2.85: 3.333 + 0.85 * 96.667
    p99: 97.1, // position 2.97: 3.333 + 0.97 * 96.667
    max: 100,
  })
})

t.test('bad input is refused', async (t) => {
  t.throws(() => summarizeLatencies([]), /the list is empty/)
  t.throws(() => percentile([1, Number.NaN], 50), /NaN is not a finite number/)
  t.throws(() => percentile([1], 101), /percentile p: 101/)
})

t.test('median: the middle value, or the mean of the two middle ones', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])), 'no values: NaN')
  const values = [3, 1, 2]
  median(values)
  t.same(values, [3, 1, 2], 'the input is not sorted in place')
})

t.test('lowerMedian: always one of the samples', async (t) => {
  t.equal(lowerMedian([40, 10, 30, 20]), 20, 'of an even count, the lower middle value')
  t.equal(lowerMedian([5, 1, 3]), 3)
  t.equal(lowerMedian([7]), 7)
  t.throws(() => lowerMedian([]), /the list is empty/)
})

t.test('paddingRatio: padded over real tokens, batches cut in the order given', async (t) => {
  t.equal(paddingRatio([4, 4, 4, 4], 2), 1, 'equal lengths need no padding')
  // Batches [2, 8] and [8, 2] both pad to 8: 32 padded tokens for 20 real ones.
  t.equal(paddingRatio([2, 8, 8, 2], 2), 32 / 20)
  // Sorted, the same lengths batch as [2, 2] and [8, 8]: no padding.
  t.equal(paddingRatio([2, 2, 8, 8], 2), 1)
  // A short last batch pads only to its own longest: [10, 1] -> 20, [5] -> 5; 25 / 16.
  t.equal(paddingRatio([10, 1, 5], 2), 25 / 16)
})
