import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../config.js'
import { elapsedMs } from '../pipeline/candidate.js'
import { errors } from '../errors.js'
import { CollectionName, Metadata, errorResponses } from './schemas.js'

/** Metadata is stored as JSON and filtered with SQLite's JSON functions, which stop at depth 1000. */
const MAX_METADATA_DEPTH = 32
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** String.prototype.isWellFormed (V8 11.3, Node 20): native, where the regex above scans a 1 MB text in JS. */
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed()

/** Nesting depth of a JSON value, computed without recursion so hostile input cannot overflow the stack. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (node === null || typeof node !== 'object') continue
    if (depth > max) return true
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return false
}

const DocumentId = Type.String({ minLength: 1, maxLength: 512, description: 'document id, unique within the collection' })
const Params = Type.Object({ name: CollectionName })
const DocParams = Type.Object({ name: CollectionName, id: DocumentId })

const DocumentSchema = Type.Object({ id: DocumentId, text: Type.String(), metadata: Type.Optional(Metadata) })

const documents: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  const { maxBatchDocuments, maxDocumentChars } = opts.config

  app.put(
    '/v1/collections/:name/documents',
    {
      schema: {
        operationId: 'upsertDocuments',
        tags: ['documents'],
        summary: 'Upsert a batch of documents; returns once the batch is durable and searchable',
        params: Params,
        body: Type.Object(
          {
            documents: Type.Array(
              Type.Object(
                {
                  id: DocumentId,
                  text: Type.String({ minLength: 1, maxLength: maxDocumentChars, description: `text to embed and store; at most FUNNEL_MAX_DOCUMENT_CHARS characters (${maxDocumentChars} on this server)` }),
                  metadata: Type.Optional(Metadata),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, description: `at most FUNNEL_MAX_BATCH_DOCUMENTS (default 1000) per request` },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            upserted: Type.Integer(),
            truncated: Type.Array(Type.String(), { description: 'ids whose text was cut to the model maximum length before embedding' }),
            timings: Type.Object({ embed_ms: Type.Number(), total_ms: Type.Number() }),
          }),
          ...errorResponses(400, 404, 413, 503),
        },
      },
    },
    async (request) => {
      const started = performance.now()
      const docs = request.body.documents
      if (docs.length > maxBatchDocuments) throw errors.batchTooLarge('documents', docs.length, maxBatchDocuments, 'FUNNEL_MAX_BATCH_DOCUMENTS')
      const seen = new Set<string>()
      docs.forEach((doc, i) => {
        if (doc.text.trim() === '') throw errors.invalidValue(`documents[${i}].text`, doc.text, 'text must contain a non-whitespace character')
        if (LONE_SURROGATE.test(doc.id)) throw errors.invalidValue(`documents[${i}].id`, doc.id, 'ids must be well-formed Unicode (no lone surrogates)')
        // SQLite stores UTF-8, where a lone surrogate can only become U+FFFD: refuse rather than alter the text.
        if (!isWellFormed(doc.text)) throw errors.invalidRequest(`documents[${i}].text`, 'must be well-formed Unicode; it holds a lone surrogate (U+D800-U+DFFF without its pair)')
        if (doc.metadata !== undefined && depthExceeds(doc.metadata, MAX_METADATA_DEPTH)) {
          throw errors.invalidValue(`documents[${i}].metadata`, '(nested object)', `metadata may nest at most ${MAX_METADATA_DEPTH} levels`)
        }
        if (seen.has(doc.id)) throw errors.invalidValue(`documents[${i}].id`, doc.id, 'ids must be unique within one batch')
        seen.add(doc.id)
      })
      const result = await app.collections.upsert(request.params.name, docs)
      request.log.info({ collection: request.params.name, count: docs.length, ms: elapsedMs(started) }, 'upserted batch')
      return { upserted: result.upserted, truncated: result.truncated, timings: { embed_ms: result.embed_ms, total_ms: elapsedMs(started) } }
    },
  )

  app.get(
    '/v1/collections/:name/documents/:id',
    {
      schema: {
        operationId: 'getDocument',
        tags: ['documents'],
        summary: 'Fetch one document',
        params: DocParams,
        response: { 200: DocumentSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const doc = app.collections.getDocument(request.params.name, request.params.id)
      return { id: doc.id, text: doc.text, ...(doc.metadata !== null && { metadata: doc.metadata }) }
    },
  )

  app.delete(
    '/v1/collections/:name/documents/:id',
    {
      schema: {
        operationId: 'deleteDocument',
        tags: ['documents'],
        summary: 'Delete one document (durable and reflected in search when this returns)',
        params: DocParams,
        response: { 200: Type.Object({ acknowledged: Type.Literal(true), id: Type.String() }), ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      await app.collections.deleteDocument(request.params.name, request.params.id)
      return { acknowledged: true as const, id: request.params.id }
    },
  )
}

export default documents
