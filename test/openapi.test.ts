import { readFile } from 'node:fs/promises'
import t from 'tap'
import { OPENAPI_PATH, generateOpenApiDocument } from '../src/openapi-document.js'
import { buildTestApp } from './helpers/app.js'

t.test('the committed OpenAPI document matches what the routes generate', async (t) => {
  const committed = await readFile(OPENAPI_PATH, 'utf8')
  const generated = await generateOpenApiDocument()
  t.equal(generated, committed, 'run `npm run openapi` and commit openapi/openapi.json')
})

t.test('GET /openapi.json serves the document with every route and its schemas', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>> }
  t.equal(doc.openapi, '3.0.3')
  const expected: [string, string][] = [
    ['/healthz', 'get'],
    ['/readyz', 'get'],
    ['/v1/collections', 'post'],
    ['/v1/collections', 'get'],
    ['/v1/collections/{name}', 'get'],
    ['/v1/collections/{name}', 'delete'],
    ['/v1/collections/{name}/documents', 'put'],
    ['/v1/collections/{name}/documents/{id}', 'get'],
    ['/v1/collections/{name}/documents/{id}', 'delete'],
    ['/v1/collections/{name}/search', 'post'],
    ['/v1/embeddings', 'post'],
  ]
  for (const [route, method] of expected) {
    const op = doc.paths[route]?.[method]
    t.ok(op, `${method.toUpperCase()} ${route} is documented`)
    t.ok(op?.responses['200'] ?? op?.responses['201'], `${method.toUpperCase()} ${route} documents its success response`)
    if (method === 'post' || method === 'put') t.ok(op?.requestBody, `${route} documents its request body`)
  }
  t.notOk(doc.paths['/openapi.json'], 'the document route itself is hidden')
})
