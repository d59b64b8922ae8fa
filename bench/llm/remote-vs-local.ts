/**
 * The remote listwise backend against a real OpenAI-compatible server, on a real model: llama.cpp's
 * llama-server (`npm run llama-server -- install`) serving a GGUF, against the same GGUF in process
 * (node-llama-cpp), on the same rendered windows. Prints, per window, how far the served identifier
 * log-probabilities are from the in-process ones, whether both order the window the same, and each
 * path's milliseconds, alternating which runs first.
 *
 *   npx tsx bench/llm/remote-vs-local.ts --model models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF \
 *     --dataset ../shared/datasets/trec-dl19 --run ../shared/datasets/trec-dl19/bm25-top100.run --queries 10 --window 10
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import { ListwisePromptBuilder } from '../../src/rerank/listwise/prompt.js'
import { RemoteListwiseBackend } from '../../src/rerank/listwise/remote-backend.js'
import { permutationByLogit } from '../../src/rerank/listwise/sliding-window.js'
import { findGgufFile } from '../../src/rerank/llm/gguf-file.js'
import { GgufModel } from '../../src/rerank/llm/gguf-model.js'
import { LlamaCppListwiseBackend } from '../../src/rerank/llm/llama-cpp-listwise-backend.js'
import { createProgress } from '../../scripts/lib/progress.js'
import { llamaServerBinary } from '../../scripts/llama-server/llama-server.js'
import { exitWithUsage, parseCommand, positiveInt } from '../lib/args.js'
import { loadAverage, machineInfo, markdownTable } from '../lib/report.js'
import { resultPath, writeResult } from '../lib/paths.js'
import { loadRerankData } from './rerank-data.js'

const USAGE = `usage: tsx bench/llm/remote-vs-local.ts --model GGUF_OR_DIR --dataset DIR --run RUNFILE [--queries 10] [--window 10] [--threads 1]`

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Kendall's tau between two orders of the same slots. */
function kendallTau(a: readonly number[], b: readonly number[]): number {
  const position = new Map(b.map((slot, i) => [slot, i]))
  let concordant = 0
  let discordant = 0
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      if (position.get(a[i]!)! < position.get(a[j]!)!) concordant++
      else discordant++
    }
  }
  return (concordant - discordant) / Math.max(1, concordant + discordant)
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    model: { type: 'string' },
    dataset: { type: 'string' },
    run: { type: 'string' },
    queries: { type: 'string', default: '10' },
    window: { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
  })
  if (values.model === undefined || values.dataset === undefined || values.run === undefined) exitWithUsage(USAGE)
  const threads = positiveInt('threads', values.threads)
  const window = positiveInt('window', values.window)
  const gguf = await findGgufFile(values.model)
  const data = await loadRerankData(values.dataset, values.run, window)
  const queries = data.queries.slice(0, positiveInt('queries', values.queries))

  const port = await freePort()
  const server = spawn(llamaServerBinary(), ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), '-c', '4096', '-t', String(threads), '-np', '1', '--no-webui'], { stdio: 'ignore' })
  const baseUrl = `http://127.0.0.1:${port}`
  try {
    for (let waited = 0; !(await fetch(`${baseUrl}/health`).then((r) => r.ok, () => false)); waited += 250) {
      if (server.exitCode !== null || waited > 120_000) throw new Error(`llama-server did not start (${llamaServerBinary()})`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const lm = await GgufModel.load(gguf, { threads })
    const local = await LlamaCppListwiseBackend.create(lm, { contextSize: 4096 })
    const prompts = new ListwisePromptBuilder(lm.tokenizer, lm.chatTemplate, { contextLength: 4096 })
    // SmolLM2's vocabulary is 49,152 tokens; 100 top log-probabilities hold the identifiers that matter.
    const remote = new RemoteListwiseBackend({ baseUrl, model: 'served', timeoutMs: 600_000, topLogprobs: 100 })
    const rows: { query: string; tokens: number; identifiers_served: number; max_abs_diff: number; same_first: boolean; kendall_tau: number; local_ms: number; served_ms: number }[] = []
    const progress = createProgress({ label: 'windows', total: queries.length })
    for (const [i, query] of queries.entries()) {
      const prompt = prompts.build(query.text, query.candidates.map((c) => c.text))
      const timed = async (backend: LlamaCppListwiseBackend | RemoteListwiseBackend) => {
        const started = performance.now()
        const scores = await backend.identifierScores(prompt)
        return { scores, ms: performance.now() - started }
      }
      const [first, second] = i % 2 === 0 ? [local, remote] : [remote, local]
      const a = await timed(first)
      const b = await timed(second)
      const [own, served] = i % 2 === 0 ? [a, b] : [b, a]
      const both = served.scores.flatMap((lp, slot) => (lp === undefined || own.scores[slot] === undefined ? [] : [Math.abs(lp - own.scores[slot]!)]))
      const ownOrder = permutationByLogit(own.scores)
      const servedOrder = permutationByLogit(served.scores)
      rows.push({
        query: query.id,
        tokens: prompt.ids.length,
        identifiers_served: served.scores.filter((lp) => lp !== undefined).length,
        max_abs_diff: Math.round(Math.max(...both) * 1e4) / 1e4,
        same_first: ownOrder[0] === servedOrder[0],
        kendall_tau: Math.round(kendallTau(ownOrder, servedOrder) * 1000) / 1000,
        local_ms: Math.round(own.ms),
        served_ms: Math.round(served.ms),
      })
      progress.tick()
    }
    progress.done()
    await local.dispose()
    const result = { model: gguf, threads, window, rows, machine: machineInfo(), load: loadAverage(), date: new Date().toISOString() }
    const file = await writeResult(resultPath('remote-vs-local', undefined), result)
    process.stdout.write(
      `${markdownTable(
        ['query', 'prompt tokens', 'identifiers served', 'max |served - in process|', 'same first', 'Kendall tau', 'in-process ms', 'served ms'],
        rows.map((r) => [r.query, r.tokens, `${r.identifiers_served}/${window}`, r.max_abs_diff, r.same_first ? 'yes' : 'no', r.kendall_tau, r.local_ms, r.served_ms]),
      )}\nresult ${file}\n`,
    )
  } finally {
    server.kill('SIGKILL')
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`remote-vs-local failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
