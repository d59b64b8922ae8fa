/**
 * Where each case's longest stall went: reads the `.cpuprofile` that
 * `node --cpu-prof --cpu-prof-dir DIR --import tsx bench/event-loop/event-loop-delay.ts ...` wrote and
 * the JSON lines that run printed on stderr (each has `worstStallUs`, the stall's start and end on the
 * monotonic clock the profile uses), and prints self time by category and function inside each window.
 *
 *   npx tsx bench/event-loop/stall-profile.ts DIR RUN.log
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { summariseProfile, type CpuProfile } from '../profile/cpu-profile.js'

const [dir, log] = process.argv.slice(2)
if (dir === undefined || log === undefined) {
  process.stderr.write('usage: npx tsx bench/event-loop/stall-profile.ts PROFILE_DIR RUN.log\n')
  process.exit(2)
}
// The main thread's profile is the largest one (worker threads write their own, small ones).
const file = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => path.join(dir, f))
  .sort((a, b) => statSync(b).size - statSync(a).size)[0]
if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`)
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
for (const line of readFileSync(log, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue
  const result = JSON.parse(line) as { name: string; maxDelayMs: number; maxStallCpuMs: number; worstStallUs: [number, number] }
  const [start, end] = result.worstStallUs
  const summary = summariseProfile(profile, 12, { endsMsBeforeEnd: (profile.endTime - end) / 1000, lengthMs: (end - start) / 1000 })
  console.log(`\n## ${result.name}: worst ${result.maxDelayMs} ms, CPU ${result.maxStallCpuMs} ms; profiled window busy ${summary.busyMs.toFixed(1)} of ${summary.totalMs.toFixed(1)} ms`)
  for (const c of summary.byCategory) console.log(`  ${c.category}: ${c.ms.toFixed(1)}`)
  for (const f of summary.topFunctions) console.log(`    ${f.ms.toFixed(1)}  ${f.name}`)
}
