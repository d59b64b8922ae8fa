/**
 * Label → row lookups as RescoreVectors does them for a shortlist, side by side in one run: a V8
 * `Map` (what RescoreVectors used until session 12) against LabelRows (typed-array open addressing).
 * Labels are SQLite-rowid-like (1..N, with every 10th deleted, as after churn); each round looks up
 * `shortlist` random labels per query for `queries` queries, alternating which structure goes first.
 *
 *   npx tsx bench/retrieval/label-lookup.ts [--labels 1000000] [--shortlist 1000] [--queries 2000] [--rounds 3]
 */
import { mulberry32 } from '../../src/calibration/fit.js'
import { LabelRows } from '../../src/retrieval/label-rows.js'
import { parseCommand, positiveInt } from '../lib/args.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'

const USAGE = 'usage: npx tsx bench/retrieval/label-lookup.ts [--labels 1000000] [--shortlist 1000] [--queries 2000] [--rounds 3]'
const values = parseCommand(USAGE, {
  labels: { type: 'string', default: '1000000' },
  shortlist: { type: 'string', default: '1000' },
  queries: { type: 'string', default: '2000' },
  rounds: { type: 'string', default: '3' },
})
const n = positiveInt('labels', values.labels)
const shortlist = positiveInt('shortlist', values.shortlist)
const queries = positiveInt('queries', values.queries)
const rounds = positiveInt('rounds', values.rounds)

const map = new Map<number, number>()
const table = new LabelRows()
let row = 0
for (let label = 1; label <= n; label++) {
  map.set(label, row)
  table.set(label, row)
  row++
}
for (let label = 10; label <= n; label += 10) {
  map.delete(label)
  table.delete(label)
}
const heapMb = (): number => process.memoryUsage().heapUsed / 2 ** 20
const uniform = mulberry32(3)
const probes = Int32Array.from({ length: queries * shortlist }, () => 1 + Math.floor(uniform() * n))

let sink = 0
const timeMap = (): number => {
  const started = performance.now()
  for (let i = 0; i < probes.length; i++) sink += map.get(probes[i]!) ?? -1
  return (performance.now() - started) / queries
}
const timeTable = (): number => {
  const started = performance.now()
  for (let i = 0; i < probes.length; i++) sink += table.get(probes[i]!)
  return (performance.now() - started) / queries
}
timeMap()
timeTable()
const rows: (string | number)[][] = []
for (let round = 1; round <= rounds; round++) {
  const [first, second] = round % 2 === 1 ? [timeMap, timeTable] : [timeTable, timeMap]
  const a = first()
  const b = second()
  const mapMs = round % 2 === 1 ? a : b
  const tableMs = round % 2 === 1 ? b : a
  rows.push([round, round % 2 === 1 ? 'Map' : 'LabelRows', mapMs.toFixed(4), tableMs.toFixed(4), `${(mapMs / tableMs).toFixed(2)}×`])
}
process.stdout.write(
  `${n.toLocaleString('en-US')} labels (${table.size.toLocaleString('en-US')} held), ${shortlist} lookups per query, ${queries} queries per round; ` +
    `${JSON.stringify(machineInfo())}, load ${loadAverage().join(' ')} (heap ${heapMb().toFixed(0)} MiB; sink ${sink})\n\n` +
    markdownTable(['round', 'first', 'Map ms / query', 'LabelRows ms / query', 'Map / LabelRows'], rows) +
    '\n',
)
