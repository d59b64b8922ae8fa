import { execFile } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import t from 'tap'
import { OPENAPI_PATH } from '../../src/openapi-document.js'
import { TEST_MODEL, fixtureModelsDir } from '../helpers/app.js'
import { startServer, waitForExit } from '../helpers/server-process.js'

/**
 * The committed OpenAPI document is good enough to drive a generated, typed client: openapi-typescript
 * turns it into `paths`, a small openapi-fetch program type-checks under `tsc --strict` (including
 * `@ts-expect-error` lines proving wrong bodies are rejected at compile time), then runs against a
 * real server process.
 */

const run = promisify(execFile)
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = (name: string) => path.join(repoRoot, 'node_modules/.bin', name)

/** The client program. Each step prints one JSON line; the test asserts on them. */
const CLIENT_PROGRAM = `
import createClient from 'openapi-fetch'
import type { components, paths } from './schema.js'

type ErrorBody = components['schemas']['ErrorResponse']
type SearchHit = paths['/v1/collections/{name}/search']['post']['responses'][200]['content']['application/json']['results'][number]

const client = createClient<paths>({ baseUrl: process.argv[2] })
const print = (line: Record<string, unknown>) => console.log(JSON.stringify(line))
const fail = (step: string, status: number, error: ErrorBody): never => {
  throw new Error(step + ' failed with ' + status + ': ' + error.error.code + ' ' + error.error.message)
}
const name = 'typed'

const created = await client.POST('/v1/collections', { body: { name, index: { dims: 8 } } })
if (created.error !== undefined) fail('create', created.response.status, created.error)
else print({ step: 'create', status: created.response.status, name: created.data.name, dims: created.data.dims, indexDims: created.data.index.dims })

const upserted = await client.PUT('/v1/collections/{name}/documents', {
  params: { path: { name } },
  body: {
    documents: [
      { id: 'castle', text: 'the king ruled the castle', metadata: { lang: 'en' } },
      { id: 'river', text: 'a river runs through the valley', metadata: { lang: 'en' } },
      { id: 'rio', text: 'un rio cruza el valle', metadata: { lang: 'es' } },
    ],
  },
})
if (upserted.error !== undefined) fail('upsert', upserted.response.status, upserted.error)
else print({ step: 'upsert', status: upserted.response.status, upserted: upserted.data.upserted, truncated: upserted.data.truncated })

const found = await client.POST('/v1/collections/{name}/search', {
  params: { path: { name } },
  body: { query: 'the king ruled the castle', top_k: 2, filter: { lang: 'en' }, include: ['metadata'] },
})
if (found.error !== undefined) fail('search', found.response.status, found.error)
else {
  const hits: SearchHit[] = found.data.results
  const totalMs: number = found.data.timings.total_ms
  print({ step: 'search', status: found.response.status, ids: hits.map((h) => h.id), scores: hits.map((h) => h.score), langs: hits.map((h) => h.metadata?.lang), hasText: hits.some((h) => h.text !== undefined), totalMs, strategy: found.data.strategy })
}

const embedded = await client.POST('/v1/embeddings', { body: { input: ['first text', 'second text'], dimensions: 8 } })
if (embedded.error !== undefined) fail('embeddings', embedded.response.status, embedded.error)
else {
  const lengths = embedded.data.data.map((d) => (typeof d.embedding === 'string' ? -1 : d.embedding.length))
  print({ step: 'embeddings', status: embedded.response.status, object: embedded.data.object, count: embedded.data.data.length, lengths, model: embedded.data.model })
}

// A typed error: the 404 body is the catalogue's ErrorResponse, reachable without casts.
const missing = await client.GET('/v1/collections/{name}', { params: { path: { name: 'no-such-collection' } } })
if (missing.error !== undefined) {
  const body: ErrorBody = missing.error
  print({ step: 'missing-collection', status: missing.response.status, code: body.error.code, message: body.error.message })
} else print({ step: 'missing-collection', status: missing.response.status, unexpected: missing.data })

const missingDoc = await client.GET('/v1/collections/{name}/documents/{id}', { params: { path: { name, id: 'nope' } } })
print({ step: 'missing-document', status: missingDoc.response.status, code: missingDoc.error?.error.code })

const deleted = await client.DELETE('/v1/collections/{name}/documents/{id}', { params: { path: { name, id: 'rio' } } })
print({ step: 'delete-document', status: deleted.response.status, acknowledged: deleted.data?.acknowledged, code: deleted.error?.error.code })

const dropped = await client.DELETE('/v1/collections/{name}', { params: { path: { name } } })
print({ step: 'drop', status: dropped.response.status, acknowledged: dropped.data?.acknowledged, code: dropped.error?.error.code })

// Compile-time checks only: never called. Each line must be a type error, or tsc fails on the directive.
export function typeChecks(): void {
  // @ts-expect-error top_k is an integer, not a string
  void client.POST('/v1/collections/{name}/search', { params: { path: { name } }, body: { query: 'x', top_k: '5' } })
  // @ts-expect-error query is required
  void client.POST('/v1/collections/{name}/search', { params: { path: { name } }, body: { top_k: 5 } })
  // @ts-expect-error the path parameter name is required
  void client.GET('/v1/collections/{name}', {})
  // @ts-expect-error no such route
  void client.GET('/v1/nope', {})
  // @ts-expect-error documents is an array of { id, text }
  void client.PUT('/v1/collections/{name}/documents', { params: { path: { name } }, body: { documents: [{ id: 1 }] } })
}
`

interface Step {
  step: string
  status: number
  [key: string]: unknown
}

t.test('a client generated from openapi/openapi.json type-checks and works against a live server', async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'funnel-client-'))
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-client-data-'))
  const modelsDir = await fixtureModelsDir()
  t.teardown(() => Promise.all([work, dataDir, modelsDir].map((dir) => rm(dir, { recursive: true, force: true }))))

  // 1. Generate `paths` from the committed document.
  const ast = await openapiTS(pathToFileURL(path.join(repoRoot, OPENAPI_PATH)))
  const schema = astToString(ast)
  t.match(schema, /export interface paths/, 'openapi-typescript emitted the paths type')
  t.match(schema, /"\/v1\/collections\/\{name\}\/search"/, 'with the search route')
  // A .ts (not .d.ts) file, so --skipLibCheck skips only node_modules and the generated types are checked.
  await writeFile(path.join(work, 'schema.ts'), schema)
  await writeFile(path.join(work, 'client.ts'), CLIENT_PROGRAM)
  // ESM, resolving openapi-fetch, @types/node and tsx from the project's installed packages.
  await writeFile(path.join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }))
  await symlink(path.join(repoRoot, 'node_modules'), path.join(work, 'node_modules'), 'dir')

  // 2. Type-check with the project's TypeScript, strictly.
  const tscArgs = ['--noEmit', '--strict', '--noUncheckedIndexedAccess', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext']
  const typecheck = await run(bin('tsc'), [...tscArgs, '--lib', 'es2023', '--types', 'node', '--skipLibCheck', 'client.ts', 'schema.ts'], { cwd: work }).then(
    () => ({ ok: true, output: '' }),
    (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
  )
  t.ok(typecheck.ok, 'tsc --strict accepts the program and every @ts-expect-error line is a real type error', { output: typecheck.output })
  if (!typecheck.ok) return

  // 3. Run it against a real server process.
  const server = await startServer({ FUNNEL_DATA_DIR: dataDir, FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: TEST_MODEL, FUNNEL_BUILD_DEFAULT_MODEL: 'false' })
  t.teardown(async () => {
    server.child.kill('SIGTERM')
    await waitForExit(server.child)
  })
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'client.ts', server.url], { cwd: work, timeout: 60_000 })
  const steps = new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Step)
      .map((s) => [s.step, s]),
  )

  t.match(steps.get('create'), { status: 201, name: 'typed', dims: 16, indexDims: 8 }, 'created a collection')
  t.match(steps.get('upsert'), { status: 200, upserted: 3, truncated: [] }, 'upserted three documents')
  const search = steps.get('search')
  t.match(search, { status: 200, langs: ['en', 'en'], hasText: false }, 'the filter and include were honoured')
  t.equal((search?.ids as string[] | undefined)?.[0], 'castle', 'the document matching the query verbatim ranks first')
  t.equal((search?.ids as string[]).length, 2)
  t.type(search?.totalMs, 'number')
  t.match(steps.get('embeddings'), { status: 200, object: 'list', count: 2, lengths: [8, 8], model: TEST_MODEL }, 'embeddings truncated to 8 dims')
  t.match(steps.get('missing-collection'), { status: 404, code: 'collection_not_found', message: /no-such-collection/ }, 'a typed 404 error body')
  t.match(steps.get('missing-document'), { status: 404, code: 'document_not_found' })
  t.match(steps.get('delete-document'), { status: 200, acknowledged: true })
  t.match(steps.get('drop'), { status: 200, acknowledged: true })
})
