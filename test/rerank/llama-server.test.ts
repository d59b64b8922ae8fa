import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import type { Candidate } from '../../src/candidate.js'
import { ListwiseReranker } from '../../src/rerank/listwise/listwise-reranker.js'
import { ListwisePromptBuilder } from '../../src/rerank/listwise/prompt.js'
import { RemoteListwiseBackend } from '../../src/rerank/listwise/remote-backend.js'
import { GgufModel } from '../../src/rerank/llm/gguf-model.js'
import { LlamaCppListwiseBackend } from '../../src/rerank/llm/llama-cpp-listwise-backend.js'
import { llamaServerBinary } from '../../scripts/llama-server/llama-server.js'

// The remote listwise backend against a real OpenAI-compatible server: llama.cpp's llama-server
// (built by `npm run llama-server -- install`), serving the same tiny GGUF the in-process llama.cpp
// backend loads. The identifier log-probabilities the server returns must be the ones the engine
// computes in process, and the reranker's order the same.

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/models/tiny-gguf/tiny-chatml.gguf')
const binary = llamaServerBinary()
const texts = ['alpha', 'beta', 'gamma', 'delta', 'epsilon']
const candidates = (): Candidate[] => texts.map((text, i) => ({ id: `d${i}`, text, score: 0, scores: {} }))

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

async function startServer(t: Test): Promise<string> {
  const port = await freePort()
  const child: ChildProcess = spawn(binary, ['-m', fixture, '--host', '127.0.0.1', '--port', String(port), '-c', '1024', '-t', '1', '--no-webui', '-np', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)))
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited with ${child.exitCode}: ${log}`)
    const ok = await fetch(`${baseUrl}/health`).then((r) => r.ok, () => false)
    if (ok) return baseUrl
    if (Date.now() > deadline) throw new Error(`llama-server not healthy within 60 s: ${log}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

if (!existsSync(binary)) {
  const skip = `llama-server is not built at ${binary}; run npm run llama-server -- install (about 5 minutes) to test the remote backend against it`
  console.log(`# skipping the llama-server tests: ${skip}`)
  t.test('the remote listwise backend against llama-server', { skip }, async () => {})
} else {
  t.test('llama-server /v1/completions gives the identifier log-probabilities llama.cpp computes in process', async (t) => {
    const baseUrl = await startServer(t)
    const lm = await GgufModel.load(fixture, { threads: 1 })
    const local = await LlamaCppListwiseBackend.create(lm, { contextSize: 1024 })
    t.teardown(() => local.dispose())
    const prompts = new ListwisePromptBuilder(lm.tokenizer, lm.chatTemplate, { contextLength: 1024 })
    // The fixture's vocabulary is 289 tokens: asking for 400 top log-probabilities returns every identifier.
    const remote = new RemoteListwiseBackend({ baseUrl, model: 'tiny-chatml', timeoutMs: 30_000, topLogprobs: 400 })

    const prompt = prompts.build('which one', texts)
    const inProcess = await local.identifierScores(prompt)
    const served = await remote.identifierScores(prompt)
    t.equal(served.length, texts.length)
    t.ok(served.every((lp) => lp !== undefined), 'llama-server answers in its own logprobs.content[].top_logprobs form, and every identifier is read', { served })
    t.ok(Math.abs(served[2]! - inProcess[2]!) < 1e-3 && served[2]! > -1e-3, "'C' holds all the mass, served as in process", { served, inProcess })
    for (const i of [0, 1, 3, 4]) {
      // Both put ~1e-12 on the others; at that depth float32 softmax rounding differs by up to ~1 nat.
      t.ok(served[i]! < -20 && inProcess[i]! < -20, `identifier ${prompt.labels[i]}: negligible on both (served ${served[i]!.toFixed(2)}, in process ${inProcess[i]!.toFixed(2)})`)
    }

    const viaServer = new ListwiseReranker(remote, prompts)
    const viaEngine = new ListwiseReranker(local, prompts)
    const a = await viaServer.rank('which one', candidates())
    const b = await viaEngine.rank('which one', candidates())
    t.equal(a.candidates[0]!.id, 'd2', "slot C's passage leads through the server")
    t.equal(a.candidates[0]!.id, b.candidates[0]!.id, 'the same first passage as the in-process engine')
  })

  t.test('llama-server /v1/chat/completions: the server applies the template, the answer parses', async (t) => {
    const baseUrl = await startServer(t)
    const lm = await GgufModel.load(fixture, { threads: 1 })
    t.teardown(() => lm.dispose())
    const prompts = new ListwisePromptBuilder(lm.tokenizer, lm.chatTemplate, { contextLength: 1024 })
    const remote = new RemoteListwiseBackend({ baseUrl, model: 'tiny-chatml', api: 'chat', timeoutMs: 30_000 })
    const served = await remote.identifierScores(prompts.build('which one', texts))
    t.equal(served.length, texts.length)
    t.ok(served.some((lp) => lp !== undefined), 'at least one identifier among the top log-probabilities', { served })
  })
}
