import t from 'tap'
import { createProgress, formatDuration } from '../../../scripts/lib/progress.js'

function fakeStream(isTTY: boolean) {
  const chunks: string[] = []
  return { chunks, stream: { isTTY, write: (chunk: string) => chunks.push(chunk) } }
}

function fakeClock() {
  let ms = 0
  return { now: () => ms, advance: (by: number) => void (ms += by) }
}

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(9.4), '0:09')
  t.equal(formatDuration(125), '2:05')
  t.equal(formatDuration(3725), '1:02:05')
  t.equal(formatDuration(Number.POSITIVE_INFINITY), '?')
})

t.test('TTY: rewrites one line, at most every 250 ms, and ends it on done', async (t) => {
  const { chunks, stream } = fakeStream(true)
  const clock = fakeClock()
  const progress = createProgress({ label: 'indexing', total: 5183, stream, now: clock.now })

  clock.advance(3000)
  progress.tick(1234) // 1234 docs in 3 s = 411.3/s; 3949 left -> 9.6 s -> ETA 0:10
  t.same(chunks, ['\rindexing  1234/5183  23.8%  411/s  ETA 0:10'])

  clock.advance(100)
  progress.tick(10)
  t.equal(chunks.length, 1, 'no render within 250 ms of the last')

  clock.advance(200)
  progress.tick(10) // 1254 in 3.3 s = 380/s
  t.equal(chunks.length, 2)
  t.match(chunks[1], /^\rindexing {2}1254\/5183 {2}24\.2% {2}380\/s {2}ETA 0:10$/)

  clock.advance(10_000)
  progress.tick(3929) // 5183 in 13.3 s = 389.7/s
  progress.done()
  // One space of padding: 'in 0:13' is a character shorter than the 'ETA 0:10' it overwrites.
  t.equal(chunks.at(-1), '\rindexing  5183/5183  100.0%  390/s  in 0:13 \n')
  progress.tick()
  progress.done()
  t.equal(chunks.length, 4, 'ticks and done after done print nothing')
})

t.test('TTY: a shorter line is padded over the longer one before it', async (t) => {
  const { chunks, stream } = fakeStream(true)
  const clock = fakeClock()
  const progress = createProgress({ label: 'q', total: 100, stream, now: clock.now })
  clock.advance(1000)
  progress.tick(1) // 1/s, 99 s left: 'ETA 1:39'
  clock.advance(1000)
  progress.done() // 'in 0:02' is shorter
  t.equal(chunks[1]!.length, chunks[0]!.length + 1, 'same width plus the newline')
  t.match(chunks[1], /in 0:02 +\n$/)
})

t.test('not a TTY: one line per tenth of the total, then the final line', async (t) => {
  const { chunks, stream } = fakeStream(false)
  const clock = fakeClock()
  const progress = createProgress({ label: 'queries', total: 300, stream, now: clock.now })
  for (let i = 0; i < 300; i++) {
    clock.advance(100)
    progress.tick()
  }
  progress.done()
  t.equal(chunks.length, 10, 'nine intermediate lines (10%..90%) and the final one')
  t.ok(chunks.every((chunk) => chunk.endsWith('\n') && !chunk.includes('\r')))
  t.equal(chunks[0], 'queries  30/300  10.0%  10/s  ETA 0:27\n')
  t.equal(chunks.at(-1), 'queries  300/300  100.0%  10/s  in 0:30\n')
})

t.test('not a TTY: a fast job prints no more often than the interval', async (t) => {
  const { chunks, stream } = fakeStream(false)
  const clock = fakeClock()
  const progress = createProgress({ label: 'fast', total: 100, stream, now: clock.now })
  clock.advance(1)
  progress.tick(50) // the first line may come at once: 50%
  clock.advance(1)
  progress.tick(20) // 70%, but 1 ms later: held back
  clock.advance(300)
  progress.tick(1) // 71%: printed, and it carries the 70% bucket
  progress.done()
  t.same(
    chunks.map((chunk) => chunk.split('  ')[1]),
    ['50/100', '71/100', '71/100'],
  )
})

t.test('a total of 0 and invalid totals', async (t) => {
  const { chunks, stream } = fakeStream(false)
  const progress = createProgress({ label: 'empty', total: 0, stream, now: () => 0 })
  progress.done()
  t.same(chunks, ['empty  0/0  100.0%  -/s  in 0:00\n'])
  t.throws(() => createProgress({ label: 'x', total: -1, stream }), /progress total: -1/)
})

t.test('the clock defaults to performance.now', async (t) => {
  // No `now` option: the ETA and the final elapsed time must come from performance.now, so a fake
  // performance.now drives them as an injected clock would.
  let ms = 1_000
  t.intercept(performance, 'now', { value: () => ms })
  const { chunks, stream } = fakeStream(false)
  const progress = createProgress({ label: 'default', total: 10, stream, intervalMs: 0 })
  ms += 2_000
  progress.tick(1) // 1 in 2 s = 0.5/s; 9 left -> 18 s
  ms += 3_000
  progress.done()
  t.same(chunks, ['default  1/10  10.0%  0.5/s  ETA 0:18\n', 'default  1/10  10.0%  0.2/s  in 0:05\n'])
})

t.test('the stream defaults to stderr', async (t) => {
  const written: string[] = []
  t.intercept(process.stderr, 'write', { value: (chunk: string) => written.push(chunk) })
  t.intercept(process.stderr, 'isTTY', { value: false })
  createProgress({ label: 'to stderr', total: 0, now: () => 0 }).done()
  t.same(written, ['to stderr  0/0  100.0%  -/s  in 0:00\n'])
})
