import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { summariseProfile, type CpuProfile } from '../../../bench/profile/cpu-profile.js'

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 })

t.test('self time is charged to the node on top of the stack, by category and by function', async (t) => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('run', 'file:///app/node_modules/onnxruntime-node/dist/backend.js') },
      { id: 4, callFrame: frame('encode', 'file:///app/src/inference/tokenizer.ts') },
    ],
    // 10 ms idle, 30 ms onnxruntime, 10 ms tokenizer (deltas in microseconds).
    samples: [2, 3, 3, 3, 4],
    timeDeltas: [10_000, 10_000, 10_000, 10_000, 10_000],
    startTime: 0,
    endTime: 50_000,
  }
  const summary = summariseProfile(profile)
  t.equal(summary.totalMs, 50)
  t.equal(summary.busyMs, 40, 'idle time is not busy')
  t.same(
    summary.byCategory.map((c) => [c.category, c.ms, c.shareOfBusy]),
    [
      ['onnxruntime (model run)', 30, 0.75],
      ['tokenizer', 10, 0.25],
    ],
  )
  t.equal(summary.topFunctions[0]!.name, 'run onnxruntime-node/dist/backend.js:1')
  t.equal(summary.topFunctions[1]!.name, 'encode src/inference/tokenizer.ts:1')

  // The window keeps only samples taken 10-30 ms before the end: the 2nd-4th ... here samples 3 and 4.
  const window = summariseProfile(profile, 15, { endsMsBeforeEnd: 10, lengthMs: 20 })
  t.equal(window.totalMs, 30, 'three samples fall in the window')
  t.equal(window.busyMs, 30)
})

t.test('on a real node --cpu-prof profile, a busy function dominates its own run', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'funnel-cpuprof-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = 'function spinForFunnelTest(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x } console.log(spinForFunnelTest(1.5e8))'
  // tap's process tracking injects its loader into child processes too; the spin is long enough (~1 s)
  // for that start-up work to stay a minority of the profile.
  execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '-e', script], { env: { PATH: process.env.PATH ?? '' } })
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!
  const summary = summariseProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, 5)
  t.ok(summary.busyMs > 0, `busy ${summary.busyMs.toFixed(0)} ms`)
  // V8 may charge the loop to the function or, once inlined, to the script's top level: both are [eval].
  const fromScript = summary.topFunctions.filter((f) => f.name.includes('[eval]'))
  const share = fromScript.reduce((sum, f) => sum + f.shareOfBusy, 0)
  t.ok(share > 0.5, `the spinning script has ${(share * 100).toFixed(0)}% of busy time (${summary.topFunctions.map((f) => f.name).join('; ')})`)
  t.match(summary.topFunctions[0]!.name, /\[eval\]/, 'and its top function')
})
