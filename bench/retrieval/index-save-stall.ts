/**
 * How long an index save holds the event loop, and how many searches are served meanwhile: the
 * product's DenseIndex.save (the graph serialised on a libuv worker thread) against hnswlib's
 * writeIndexSync (what DenseIndex.save did before session 11), on the same saved index, in one run.
 *
 * Each variant: a loop of searches (one per event-loop turn, via setImmediate) and a 1 ms timer run
 * while the save is in progress; reported are the save's wall time, the longest gap between timer
 * ticks (the event-loop stall a request would see) and the searches completed and their p99.
 *
 *   npx tsx bench/retrieval/index-save-stall.ts --index bench-results/million/gemma.n1000000.q1000.s1.hnsw192.m16.efc200
 */
import { rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { hnswlib } from '../../src/retrieval/hnswlib-binding.js'
import { exitWithUsage, parseCommand, positiveInt } from '../lib/args.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'
import { resultPath, writeResult } from '../lib/paths.js'

const USAGE = `usage: tsx bench/retrieval/index-save-stall.ts --index BASE [--rounds 2] [--out-dir DIR]

BASE is a DenseIndex file pair without extension (BASE.hnsw, BASE.meta.json), e.g. the cached
indexes of npm run bench:million. Saves are written to --out-dir (default the OS temp folder) and removed.
`

interface Measured {
  variant: string
  save_ms: number
  max_stall_ms: number
  searches: number
  search_p99_ms: number
}

/** Runs `save` while a search loop and a 1 ms timer run; returns what they saw. */
async function measure(variant: string, save: () => Promise<unknown> | unknown, search: (i: number) => void): Promise<Measured> {
  let running = true
  let last = performance.now()
  let maxGap = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
  }, 1)
  const latencies: number[] = []
  const loop = new Promise<void>((resolve) => {
    const step = () => {
      if (!running) return resolve()
      const started = performance.now()
      search(latencies.length)
      latencies.push(performance.now() - started)
      setImmediate(step)
    }
    setImmediate(step)
  })
  // Let the loop and the timer start before the save does.
  await new Promise((resolve) => setTimeout(resolve, 20))
  last = performance.now()
  maxGap = 0
  const before = latencies.length
  const started = performance.now()
  await save()
  const saveMs = performance.now() - started
  const now = performance.now()
  maxGap = Math.max(maxGap, now - last)
  running = false
  await loop
  clearInterval(timer)
  const during = latencies.slice(before).sort((a, b) => a - b)
  return {
    variant,
    save_ms: Math.round(saveMs),
    max_stall_ms: Math.round(maxGap),
    searches: during.length,
    search_p99_ms: Math.round((during[Math.floor(during.length * 0.99)] ?? 0) * 100) / 100,
  }
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, { index: { type: 'string' }, rounds: { type: 'string', default: '2' }, 'out-dir': { type: 'string', default: os.tmpdir() } })
  if (values.index === undefined) exitWithUsage(USAGE)
  const rounds = positiveInt('rounds', values.rounds)
  const meta = JSON.parse(readFileSync(`${values.index}.meta.json`, 'utf8')) as { dims: number; m: number; efConstruction: number; bytes: number }
  const settings = { dims: meta.dims, m: meta.m, efConstruction: meta.efConstruction, efSearch: 64 }
  process.stderr.write(`loading ${values.index} (${(meta.bytes / 2 ** 20).toFixed(0)} MiB) twice: the product's DenseIndex and a raw hnswlib index\n`)
  const loaded = await DenseIndex.load(values.index, settings)
  if (loaded.index === undefined) throw new Error(`cannot load ${values.index}: ${loaded.reason}`)
  const index = loaded.index
  const raw = new hnswlib.binding.HierarchicalNSW('ip', meta.dims)
  raw.readIndexSync(`${values.index}.hnsw`, true)
  raw.setEf(64)
  const query = (i: number) => Float32Array.from({ length: meta.dims }, (_, d) => Math.sin(i * 0.61 + d * 0.37))
  const out = path.join(values['out-dir'], `funnel-save-stall-${process.pid}`)
  const rows: Measured[] = []
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate which goes first, so neither always meets a cold page cache.
      const variants = [
        async () =>
          rows.push(
            await measure(
              'hnswlib writeIndexSync (before)',
              () => raw.writeIndexSync(`${out}.sync.hnsw`),
              (i) => raw.searchKnn(Array.from(query(i)), 10),
            ),
          ),
        async () =>
          rows.push(
            await measure(
              'DenseIndex.save (worker thread, fsync, checksum)',
              () => index.save(`${out}.async`),
              (i) => index.search(query(i), 10),
            ),
          ),
      ]
      if (round % 2 === 0) variants.reverse()
      for (const run of variants) {
        await run()
        await Promise.all([rm(`${out}.sync.hnsw`, { force: true }), DenseIndex.removeFiles(`${out}.async`)])
      }
      process.stderr.write(`round ${round}/${rounds} done, load ${loadAverage().join(' ')}\n`)
    }
  } finally {
    await Promise.all([rm(`${out}.sync.hnsw`, { force: true }), DenseIndex.removeFiles(`${out}.async`)])
  }
  const result = { index: values.index, bytes: meta.bytes, rows, machine: machineInfo(), load: loadAverage(), date: new Date().toISOString() }
  const file = await writeResult(resultPath('index-save-stall', undefined), result)
  process.stdout.write(
    `${markdownTable(
      ['variant', 'save ms', 'longest event-loop stall ms', 'searches served during the save', 'their p99 ms'],
      rows.map((r) => [r.variant, r.save_ms, r.max_stall_ms, r.searches, r.search_p99_ms]),
    )}\nresult ${file}\n`,
  )
}

main().catch((error: unknown) => {
  process.stderr.write(`index-save-stall failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
