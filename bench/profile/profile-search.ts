import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { checkVariants, prepareVariants, VARIANTS } from '../hot-path/variants.js'
import { parseCommand } from '../lib/args.js'
import { repoRoot, sharedDataset } from '../lib/paths.js'
import { startServer, stopServer } from '../lib/server.js'
import { measure, rotating, uniqueText, type RunRow } from '../load/load-driver.js'
import { summariseProfile, type CpuProfile, type ProfileSummary } from './cpu-profile.js'

const USAGE = `usage: npm run profile:search -- [--model sentence-transformers/all-MiniLM-L6-v2] [--dataset DIR]
       [--docs 300] [--connections 8] [--duration 10] [--variants session-1,default] [--top 12]
       [--before-root DIR]

Profiles the server while it answers searches: for each variant (see bench:hot-path --help) a server
runs under \`node --cpu-prof\`, autocannon sends unique-query searches for --duration seconds, and the
V8 profile written at shutdown is summed by part of the stack (onnxruntime, tokenizer, SQLite, HNSW,
HTTP, GC) and by function. CPU ms per search make variants comparable. The .cpuprofile files are kept
under bench-results/profiles/ (open them in Chrome DevTools or speedscope for a flame graph).

--before-root DIR runs the first variant from another checkout (e.g. \`git worktree add /tmp/before
<commit>\` with node_modules linked in), so code changes are profiled before and after in one run.
`

const COLLECTION = 'profile-search'

function parseOptions() {
  const values = parseCommand(USAGE, {
    model: { type: 'string', default: 'sentence-transformers/all-MiniLM-L6-v2' },
    dataset: { type: 'string', default: sharedDataset('scifact') },
    docs: { type: 'string', default: '300' },
    connections: { type: 'string', default: '8' },
    duration: { type: 'string', default: '10' },
    variants: { type: 'string', default: 'session-1,default' },
    top: { type: 'string', default: '12' },
    'before-root': { type: 'string' },
  })
  const variants = checkVariants(values.variants)
  return { ...values, docs: Number(values.docs), connections: Number(values.connections), duration: Number(values.duration), top: Number(values.top), variants }
}

/**
 * The main thread's profile. Node writes one per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>):
 * tsx's module loader runs on a thread of its own, so pick thread 0.
 */
async function mainThreadProfile(dir: string): Promise<CpuProfile> {
  const file = (await readdir(dir)).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f))
  if (file === undefined) throw new Error(`no main-thread .cpuprofile in ${dir}: did the server exit cleanly?`)
  return JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile
}

function report(results: { variant: string; row: RunRow; summary: ProfileSummary }[], top: number): string {
  const categories = [...new Set(results.flatMap((r) => r.summary.byCategory.map((c) => c.category)))]
  const perSearch = (r: (typeof results)[number], ms: number) => (ms / Math.max(1, r.row.requests)).toFixed(2)
  const head = `| part of the stack | ${results.map((r) => `${r.variant}: CPU ms per search (share)`).join(' | ')} |\n|---|${results.map(() => '---').join('|')}|\n`
  const rows = categories.map((category) => {
    const cells = results.map((r) => {
      const c = r.summary.byCategory.find((x) => x.category === category)
      return c === undefined ? '0' : `${perSearch(r, c.ms)} (${(c.shareOfBusy * 100).toFixed(0)}%)`
    })
    return `| ${category} | ${cells.join(' | ')} |`
  })
  const totals = `| **busy total** | ${results.map((r) => `**${perSearch(r, r.summary.busyMs)}**`).join(' | ')} |`
  const load = results.map((r) => `${r.variant}: ${r.row.requests} searches, ${r.row.rps} req/s, p50 ${r.row.p50_ms} ms, p99 ${r.row.p99_ms} ms`).join('\n')
  const tops = results
    .map((r) => `top ${top} functions by self time, ${r.variant}:\n` + r.summary.topFunctions.map((f) => `  ${((f.shareOfBusy * 100).toFixed(1) + '%').padStart(6)}  ${perSearch(r, f.ms).padStart(6)} ms/search  ${f.name}  [${f.category}]`).join('\n'))
    .join('\n\n')
  return `${load}\n\n${head}${rows.join('\n')}\n${totals}\n\n${tops}\n`
}

async function main(): Promise<void> {
  const options = parseOptions()
  const { work, model, queries, base, seedDir } = await prepareVariants({ ...options, collection: COLLECTION, workPrefix: 'funnel-profile-' })
  const keep = path.join(repoRoot, 'bench-results', 'profiles', String(Date.now()))
  try {
    const results: { variant: string; row: RunRow; summary: ProfileSummary }[] = []
    for (const variant of options.variants) {
      const data = path.join(work, `data-${variant}`)
      const profDir = path.join(keep, variant)
      await cp(seedDir, data, { recursive: true })
      await mkdir(profDir, { recursive: true })
      const root = variant === options.variants[0] ? options['before-root'] : undefined
      const server = await startServer({ ...base, ...VARIANTS[variant]!.env, FUNNEL_DATA_DIR: data }, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir], ...(root !== undefined && { root }) })
      let row: RunRow
      let measuredMs: number
      let stoppingMs: number
      try {
        // Unique query texts (a counter appended), so a cache never answers and every search embeds.
        const search = () => rotating('POST', `/v1/collections/${COLLECTION}/search`, queries, (q) => ({ query: uniqueText(q), top_k: 10 }))
        await measure(server.url, `warm-up [${variant}]`, 2, 2, [search()])
        const started = performance.now()
        row = await measure(server.url, `search [${variant}]`, options.connections, options.duration, [search()])
        measuredMs = performance.now() - started
      } finally {
        const stopping = performance.now()
        await stopServer(server)
        stoppingMs = performance.now() - stopping
      }
      // The profile spans the process's life; only the measured run counts (start-up, model load,
      // warm-up and shutdown are cut away by time before the profile's end).
      const window = { endsMsBeforeEnd: Math.max(0, stoppingMs - 20), lengthMs: measuredMs }
      const label = root === undefined ? variant : `${variant} (code in ${path.basename(root)})`
      results.push({ variant: label, row, summary: summariseProfile(await mainThreadProfile(profDir), options.top, window) })
    }
    const text = report(results, options.top)
    await writeFile(path.join(keep, 'summary.md'), text)
    process.stdout.write(
      `model ${model}; ${options.docs} documents; ${options.connections} connections for ${options.duration} s per variant; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n\n${text}\nprofiles: ${path.relative(process.cwd(), keep)}\n`,
    )
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`profile failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
