import SwaggerParser from '@apidevtools/swagger-parser'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { OPENAPI_PATH } from '../../src/openapi-document.js'

/**
 * The committed OpenAPI document is valid OpenAPI 3.0 and complete enough for generated clients:
 * every operation documents a success schema, every error answer is the catalogue's ErrorResponse,
 * and every POST/PUT documents its body. (test/openapi.test.ts checks the file matches the routes.)
 */

interface MediaType {
  schema?: Record<string, unknown>
}
interface Operation {
  operationId?: string
  requestBody?: { content?: Record<string, MediaType> }
  responses?: Record<string, { $ref?: string; content?: Record<string, MediaType> }>
}
interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Record<string, unknown>> }
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']
const ERROR_REF = '#/components/schemas/ErrorResponse'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const document = JSON.parse(await readFile(path.join(repoRoot, OPENAPI_PATH), 'utf8')) as OpenApiDocument
const operations = Object.entries(document.paths).flatMap(([route, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({ label: `${method.toUpperCase()} ${route}`, method, op })),
)

t.test('swagger-parser validates the document against the OpenAPI 3.0 schema', async (t) => {
  // validate() dereferences in place; give it a copy so the checks below see the $refs.
  const api = await SwaggerParser.validate(structuredClone(document) as never)
  t.match(api, { openapi: /^3\.0\./ }, 'an OpenAPI 3.0.x document')
  t.ok(operations.length >= 11, `${operations.length} operations documented`)
})

t.test('ErrorResponse is { error: { code, message } } with both fields required', async (t) => {
  const schema = document.components?.schemas?.ErrorResponse
  t.match(schema, {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  })
})

t.test('every operation documents a 2xx response with a schema', async (t) => {
  for (const { label, op } of operations) {
    const success = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status))
    t.ok(success.length > 0, `${label} has a 2xx response`)
    const withSchema = success.filter(([, res]) => Object.values(res.content ?? {}).some((media) => media.schema !== undefined))
    t.ok(withSchema.length > 0, `${label} gives its 2xx response a schema`)
  }
})

t.test('every 4xx/5xx response references ErrorResponse', async (t) => {
  let checked = 0
  for (const { label, op } of operations) {
    for (const [status, res] of Object.entries(op.responses ?? {})) {
      if (!/^[45]\d\d$|^[45]XX$/.test(status)) continue
      checked++
      const media = Object.entries(res.content ?? {})
      t.ok(media.length > 0, `${label} ${status} has a body`)
      for (const [type, { schema }] of media) t.equal(schema?.$ref, ERROR_REF, `${label} ${status} ${type} is ErrorResponse`)
    }
  }
  t.ok(checked > 0, `${checked} error responses checked`)
})

t.test('every POST and PUT documents a request body with a schema', async (t) => {
  for (const { label, method, op } of operations) {
    if (method !== 'post' && method !== 'put') continue
    const media = Object.values(op.requestBody?.content ?? {})
    t.ok(media.length > 0, `${label} documents its request body`)
    t.ok(
      media.every((m) => m.schema !== undefined),
      `${label} gives every request body media type a schema`,
    )
  }
})
