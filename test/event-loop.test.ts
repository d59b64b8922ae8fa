import t from 'tap'
import { LoopSlicer } from '../src/event-loop.js'

/** Runs `steps` loop iterations, calling `slicer.slice()` after each; reports whether a macrotask ran meanwhile. */
async function macrotaskRanDuring(slicer: LoopSlicer, steps: number): Promise<boolean> {
  let ran = false
  setImmediate(() => (ran = true))
  for (let i = 0; i < steps; i++) await slicer.slice()
  const before = ran
  await new Promise((resolve) => setImmediate(resolve))
  return before
}

t.test('a slicer whose budget is spent yields to the event loop between items', async (t) => {
  t.equal(await macrotaskRanDuring(new LoopSlicer(0), 3), true, 'an immediate scheduled before the loop ran inside it')
})

t.test('a slicer within its budget does not yield (slicing costs nothing on short loops)', async (t) => {
  t.equal(await macrotaskRanDuring(new LoopSlicer(Number.POSITIVE_INFINITY), 1000), false, 'the immediate waited for the loop to end')
})
