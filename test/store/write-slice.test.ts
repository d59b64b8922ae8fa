import t from 'tap'
import { WriteSlice } from '../../src/store/embedded/write-chunks.js'

/** A clock the test moves by hand. */
const manualClock = () => {
  let now = 0
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

t.test('the first chunk of a transaction always starts, however long chunks have been', async (t) => {
  const clock = manualClock()
  const slice = new WriteSlice(10, clock.now)
  slice.begin()
  slice.chunkStarted()
  clock.advance(50)
  slice.chunkEnded()
  slice.begin()
  t.equal(slice.canStartChunk(), true)
})

t.test('a chunk starts only if one as long as the longest so far still fits in the budget', async (t) => {
  const clock = manualClock()
  const slice = new WriteSlice(10, clock.now)
  slice.begin()
  slice.chunkStarted()
  clock.advance(3)
  slice.chunkEnded()
  // 3 ms used, longest chunk 3 ms: 6 < 10, a second chunk fits.
  t.equal(slice.canStartChunk(), true)
  slice.chunkStarted()
  clock.advance(4)
  slice.chunkEnded()
  // 7 ms used, longest 4 ms: 11 > 10. Checking elapsed time alone (7 < 10) would start a third.
  t.equal(slice.longestChunkMs, 4)
  t.equal(slice.canStartChunk(), false)
})

t.test('the longest chunk carries over to the next transaction of the same write', async (t) => {
  const clock = manualClock()
  const slice = new WriteSlice(10, clock.now)
  slice.begin()
  slice.chunkStarted()
  clock.advance(8)
  slice.chunkEnded()
  slice.begin()
  slice.chunkStarted()
  clock.advance(1)
  slice.chunkEnded()
  // 1 ms used, but a chunk has taken 8: 9 < 10 still fits; after 2 ms more, 11 does not.
  t.equal(slice.canStartChunk(), true)
  clock.advance(2)
  t.equal(slice.canStartChunk(), false)
})
