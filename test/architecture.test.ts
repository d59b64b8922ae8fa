import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// The layering the code is meant to keep (see README "Layout"), checked on every import in src/:
// stages and storage never reach up into the pipeline, the pipeline never into plugins or routes,
// only plugins choose a storage implementation, only the HTTP layer knows Fastify, and the API
// schemas are a leaf every layer may import.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const src = path.join(root, 'src')

/** Top-level part of src a file belongs to: its folder, or the file name for files directly in src. */
const partOf = (file: string): string => path.relative(src, file).split(path.sep)[0]!
const HTTP = new Set(['plugins', 'routes', 'app.ts', 'server.ts', 'openapi-document.ts'])
const ABOVE_PIPELINE = new Set([...HTTP, 'pipeline'])
const STORAGE_CHOOSERS = new Set(['store', 'plugins', 'app.ts', 'server.ts'])

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))))
  return nested.flat()
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g

/** Every import edge that breaks the layering, as "from -> to: why". */
export async function layeringViolations(): Promise<string[]> {
  const violations: string[] = []
  for (const file of await sourceFiles(src)) {
    const from = partOf(file)
    const text = await readFile(file, 'utf8')
    for (const match of text.matchAll(IMPORT)) {
      const spec = (match[1] ?? match[2])!
      const where = `${path.relative(root, file)} -> ${spec}`
      if (!spec.startsWith('.')) {
        if (from === 'schemas' && !spec.startsWith('typebox')) violations.push(`${where}: schemas are a leaf (TypeBox only)`)
        if ((spec === 'fastify' || spec === 'fastify-plugin' || spec.startsWith('@fastify/')) && !HTTP.has(from)) violations.push(`${where}: only the HTTP layer imports Fastify`)
        continue
      }
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts')
      if (!target.startsWith(src + path.sep)) {
        violations.push(`${where}: src imports only src`)
        continue
      }
      const to = partOf(target)
      if (to === from) continue
      if (from === 'schemas' && to !== 'candidate.ts') violations.push(`${where}: schemas import only each other and candidate.ts`)
      if (to === 'pipeline' && !ABOVE_PIPELINE.has(from)) violations.push(`${where}: a lower layer imports the pipeline`)
      if ((to === 'plugins' || to === 'routes') && !HTTP.has(from)) violations.push(`${where}: below the HTTP layer, nothing imports plugins or routes`)
      if (to === 'routes' && from === 'plugins') violations.push(`${where}: plugins are registered before routes and never import them`)
      const relative = path.relative(src, target)
      if (/^store[/\\](embedded|weaviate)[/\\]/.test(relative) && !STORAGE_CHOOSERS.has(from)) violations.push(`${where}: only plugins pick a storage implementation; use store/backend.ts`)
    }
  }
  return violations
}

t.test('src keeps its layering: no upward imports, one storage seam, Fastify only at the edge', async (t) => {
  t.same(await layeringViolations(), [])
})

t.test('the check sees a violation when there is one', async (t) => {
  const line = "import { SearchPipeline } from '../pipeline/search.js'"
  const match = [...`\n${line}`.matchAll(IMPORT)][0]
  t.equal(match?.[1], '../pipeline/search.js', 'the import pattern reads a static import')
  t.equal(partOf(path.join(src, 'rerank', 'cascade.ts')), 'rerank')
  t.notOk(ABOVE_PIPELINE.has('rerank'), 'rerank/ is below the pipeline, so that import would be reported')
})
