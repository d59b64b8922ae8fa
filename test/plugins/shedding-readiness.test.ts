import t from 'tap'
import { SheddingReadiness } from '../../src/plugins/shedding-readiness.js'

t.test('not ready after N sheds within the window; ready again only after a whole window without a shed', async (t) => {
  let now = 0
  const readiness = new SheddingReadiness({ notReadyAfter: 3, windowMs: 1000, now: () => now })
  t.equal(readiness.notReadyReason(), undefined, 'ready before anything is shed')
  readiness.recordShed()
  now = 400
  readiness.recordShed()
  t.equal(readiness.notReadyReason(), undefined, 'two sheds are not enough')
  now = 900
  readiness.recordShed()
  t.match(readiness.notReadyReason(), /^shedding load: at least 3 requests refused within 1000 ms .*in 1000 ms at the earliest$/, 'the third within 1 s is')
  now = 1800
  t.match(readiness.notReadyReason(), /in 100 ms at the earliest$/, 'still not ready 900 ms after the last shed')
  readiness.recordShed()
  now = 2700
  t.not(readiness.notReadyReason(), undefined, 'a shed while not ready restarts the quiet period')
  now = 2800
  t.equal(readiness.notReadyReason(), undefined, 'ready after 1000 ms without a shed')
  readiness.recordShed()
  t.equal(readiness.notReadyReason(), undefined, 'and a single shed afterwards does not flip it back (the count starts over)')
})

t.test('sheds spread wider than the window never make the instance unready', async (t) => {
  let now = 0
  const readiness = new SheddingReadiness({ notReadyAfter: 3, windowMs: 1000, now: () => now })
  for (let i = 0; i < 10; i++) {
    readiness.recordShed()
    t.equal(readiness.notReadyReason(), undefined, `shed ${i + 1} at ${now} ms`)
    now += 600
  }
})
