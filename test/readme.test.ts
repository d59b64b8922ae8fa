/**
 * The README's "Try it" and "Reranking" blocks, run verbatim with bash against a real server process.
 *
 * Only the address differs (`localhost:8080` becomes the test server's port). The offline default model
 * is the real one (built once into the repo's git-ignored models/ folder and linked in). `npm run
 * models:pull` runs for real against a local HTTP server playing the Hugging Face Hub (HF_ENDPOINT),
 * which serves the tiny fixture cross-encoder under the README's model id: the hub is unreachable here,
 * so the rerank scores are a random-weight model's, and only their shape is checked.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { defaultStaticModelEntry, ensureDefaultModel } from '../src/inference/static-model/ensure-default-model.js'
import { findModel, modelDirectory, readManifest } from '../src/models/manifest.js'
import { fixtureModelDir } from './helpers/fixture-models.js'
import { startServer, waitForExit } from './helpers/server-process.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)

/** The fenced ```sh blocks of the README that call the API (the install block has no curl). */
function readmeCurlBlocks(): string[] {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  return [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((block) => block.includes('curl ') && block.includes('localhost:8080'))
}

/** Serves `files` as `<repo>/resolve/<revision>/<path>`, the hub's download URL shape. */
async function fakeHub(t: Test, repo: string, revision: string, dir: string, files: string[]): Promise<string> {
  const prefix = `/${repo}/resolve/${revision}/`
  const server = http.createServer((req, res) => {
    const url = req.url ?? ''
    const file = url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : ''
    if (!files.includes(file)) return void res.writeHead(404).end('Entry not found')
    readFile(path.join(dir, file)).then(
      (body) => res.writeHead(200, { 'content-length': body.length }).end(body),
      () => res.writeHead(500).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('the README curl blocks run verbatim: a dense hit, a lexical hit, then a rerank after the pull', async (t) => {
  const blocks = readmeCurlBlocks()
  t.equal(blocks.length, 2, 'the Try it block and the Reranking block')
  const [tryIt, rerank] = blocks as [string, string]
  t.match(rerank, /npm run models:pull -- (\S+)/, 'the rerank block names the one command that brings the model')
  const rerankModel = /npm run models:pull -- (\S+)/.exec(rerank)![1]!

  // Models: the real offline default (built once, reused), and a hub that serves the reranker's files.
  const repoModels = path.join(repoRoot, 'models')
  const glove = await ensureDefaultModel(repoModels, () => {})
  // One fixture folder: each t.testdir() call empties the test's folder, so calling it again after the
  // server started deleted the server's database files under it.
  const root = t.testdir({ models: {}, data: {}, curl: { '.curlrc': 'write-out = "\\n"\n' } })
  const modelsDir = path.join(root, 'models')
  const gloveLink = modelDirectory(modelsDir, defaultStaticModelEntry().id)
  await mkdir(path.dirname(gloveLink), { recursive: true })
  await symlink(glove, gloveLink)
  const entry = findModel(readManifest(), rerankModel)
  if (entry?.source.kind !== 'hub') throw new Error(`${rerankModel} is not a hub model in models/manifest.json`)
  const fixture = await fixtureModelDir('tiny-cross-encoder')
  const hubFiles = entry.source.files.map((f) => f.path)
  for (const file of hubFiles) await stat(path.join(fixture, file)) // the fixture has every file the entry lists
  const endpoint = await fakeHub(t, entry.source.repo, entry.source.revision, fixture, hubFiles)

  const dataDir = path.join(root, 'data')
  const server = await startServer({ FUNNEL_MODELS_DIR: modelsDir, FUNNEL_DATA_DIR: dataDir, FUNNEL_AUTH: 'auto', FUNNEL_API_KEYS: '' })
  t.teardown(async () => {
    server.child.kill('SIGTERM')
    await waitForExit(server.child)
  })
  const address = server.url.replace(/^http:\/\//, '')
  // curl prints bodies without a newline; a curlrc of the test's own gives one response per line.
  const curlHome = path.join(root, 'curl')
  const shell = (block: string) =>
    run('bash', ['-euo', 'pipefail', '-c', block.replaceAll('localhost:8080', address)], {
      cwd: repoRoot,
      env: { ...process.env, CURL_HOME: curlHome, FUNNEL_MODELS_DIR: modelsDir, HF_ENDPOINT: endpoint, HF_TOKEN: '' },
      timeout: 120_000,
    })

  const first = await shell(tryIt)
  const responses = first.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  t.equal(responses.length, 4, 'create, upsert, dense search, lexical search')
  t.match(responses[0], { name: 'docs' })
  const dense = responses[2] as { results: { id: string }[]; mode?: string }
  const lexical = responses[3] as { results: { id: string }[] }
  t.equal(dense.results[0]?.id, '1', '"monarch" finds "The king ruled the castle" by embedding alone')
  t.equal(lexical.results[0]?.id, '2', '"gardens" finds "Carrots grow in the garden" through stemming, under the filter')

  const second = await shell(rerank)
  const reranked = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { results: { index: number; relevance_score: number }[] }
  t.equal(reranked.results.length, 2)
  t.same(reranked.results.map((r) => r.index).sort(), [0, 1], 'both documents, by index')
  t.ok(reranked.results.every((r) => r.relevance_score >= 0 && r.relevance_score <= 1), 'relevance_score is a probability')
  t.ok(reranked.results[0]!.relevance_score >= reranked.results[1]!.relevance_score, 'best first')
})
