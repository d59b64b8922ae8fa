import t from 'tap'
import { WriteSlice } from '../../src/store/embedded/write-chunks.js'

/** A slice on a clock the test moves by hand; `chunk(ms)` records one chunk that took `ms`. */
const manualSlice = (budgetMs: number) => {
  let now = 0
  const slice = new WriteSlice(budgetMs, () => now)
  const advance = (ms: number) => void (now += ms)
  const chunk = (ms: number) => {
    slice.chunkStarted()
    advance(ms)
    slice.chunkEnded()
  }
  return { slice, advance, chunk }
}

t.test('the first chunk of a transaction always starts, however long chunks have been', async (t) => {
  const { slice, chunk } = manualSlice(10)
  slice.begin()
  chunk(50)
  slice.begin()
  t.equal(slice.canStartChunk(), true)
})

t.test('a chunk starts only if one as long as the longest so far still fits in the budget', async (t) => {
  const { slice, chunk } = manualSlice(10)
  slice.begin()
  chunk(3)
  // 3 ms used, longest chunk 3 ms: 6 < 10, a second chunk fits.
  t.equal(slice.canStartChunk(), true)
  chunk(4)
  // 7 ms used, longest 4 ms: 11 > 10. Checking elapsed time alone (7 < 10) would start a third.
  t.equal(slice.longestChunkMs, 4)
  t.equal(slice.canStartChunk(), false)
})

t.test('the longest chunk carries over to the next transaction of the same write', async (t) => {
  const { slice, advance, chunk } = manualSlice(10)
  slice.begin()
  chunk(8)
  slice.begin()
  chunk(1)
  // 1 ms used, but a chunk has taken 8: 9 < 10 still fits; after 2 ms more, 11 does not.
  t.equal(slice.canStartChunk(), true)
  advance(2)
  t.equal(slice.canStartChunk(), false)
})
