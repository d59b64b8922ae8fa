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

t.test('concurrent sliced jobs take turns: one slice per event-loop iteration, so timers and I/O run between any two (issue 13, finding 4)', async (t) => {
  const log: string[] = []
  // A probe that runs once per event-loop iteration (an immediate that schedules the next one).
  let probing = true
  const probe = () => {
    log.push('probe')
    if (probing) setImmediate(probe)
  }
  setImmediate(probe)
  const job = async (name: string) => {
    const slicer = new LoopSlicer(0)
    for (let i = 0; i < 4; i++) {
      log.push(name)
      await slicer.slice()
    }
  }
  await Promise.all([job('a'), job('b'), job('c')])
  probing = false
  await new Promise((resolve) => setImmediate(resolve))
  const slicesInARow = log.join(' ').split('probe').map((run) => run.trim().split(' ').filter((x) => x !== '').length)
  // The first run holds each job's first slice (they start synchronously); every later run one resumed slice.
  t.equal(slicesInARow[0], 3, 'the three jobs start at once')
  t.ok(Math.max(...slicesInARow.slice(1)) <= 1, `at most one resumed slice between two loop iterations; slices per iteration: ${JSON.stringify(slicesInARow)}`)
  t.same(log.filter((x) => x !== 'probe').sort(), ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'c', 'c', 'c', 'c'], 'every slice of every job ran')
  t.ok(log.filter((x) => x === 'probe').length >= 9, 'the loop went round at least once per resumed slice')
})
