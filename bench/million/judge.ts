/** Re-judges the goals from a saved bench:million result: npx tsx bench/million/judge.ts RESULT.json [FUNNEL_FRACTION] */
import { readFileSync } from 'node:fs'
import { judgeGoals, type Row } from './goals.js'

const [file, fraction = '4'] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: npx tsx bench/million/judge.ts bench-results/million/<set>.result-<stamp>.json [funnel fraction, default 4]\n')
  process.exit(2)
}
const { rows } = JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[] }
const fullDims = Math.max(...rows.map((r) => r.index_dims))
for (const line of judgeGoals(rows, fullDims, Math.round(fullDims / Number(fraction))).lines) process.stdout.write(`- ${line}\n`)
