import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { elapsedMs } from '../candidate.js'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { CollectionParamsSchema } from '../schemas/collections.js'
import {
  DeleteDocumentResponseSchema,
  DocumentParamsSchema,
  DocumentSchema,
  UpsertDocumentsResponseSchema,
  upsertDocumentsRequestSchema,
  type UpsertDocument,
} from '../schemas/documents.js'
import { errorResponses } from '../schemas/errors.js'

/** Metadata is stored as JSON and filtered with SQLite's JSON functions, which stop at depth 1000. */
const MAX_METADATA_DEPTH = 32
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Stops at the first non-whitespace character (`trim()` would copy every text of the batch). */
const NON_WHITESPACE = /\S/

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

/** What the schema cannot say about a batch: non-blank text, well-formed Unicode, bounded nesting, unique ids. */
function checkBatch(docs: readonly UpsertDocument[]): void {
  const seen = new Set<string>()
  docs.forEach((doc, i) => {
    if (!NON_WHITESPACE.test(doc.text)) throw errors.invalidValue(`documents[${i}].text`, doc.text, 'text must contain a non-whitespace character')
    if (LONE_SURROGATE.test(doc.id)) throw errors.invalidValue(`documents[${i}].id`, doc.id, 'ids must be well-formed Unicode (no lone surrogates)')
    // SQLite stores UTF-8, where a lone surrogate can only become U+FFFD: refuse rather than alter the text.
    if (!isWellFormed(doc.text)) throw errors.invalidRequest(`documents[${i}].text`, 'must be well-formed Unicode; it holds a lone surrogate (U+D800-U+DFFF without its pair)')
    if (doc.metadata !== undefined && depthExceeds(doc.metadata, MAX_METADATA_DEPTH)) {
      throw errors.invalidValue(`documents[${i}].metadata`, '(nested object)', `metadata may nest at most ${MAX_METADATA_DEPTH} levels`)
    }
    if (seen.has(doc.id)) throw errors.invalidValue(`documents[${i}].id`, doc.id, 'ids must be unique within one batch')
    seen.add(doc.id)
  })
}

const documents: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  const { maxBatchDocuments, maxDocumentChars } = opts.config

  app.put(
    '/v1/collections/:name/documents',
    {
      schema: {
        operationId: 'upsertDocuments',
        tags: ['documents'],
        summary: 'Upsert a batch of documents; returns once the batch is durable and searchable',
        description:
          'Documents are inserted or replaced by id, in order. A large batch is written in several short transactions, so searches may see part of it before this returns, ' +
          'and a batch that was not acknowledged (timeout, crash) may be partly stored: retry it, upserts are idempotent by id.',
        params: CollectionParamsSchema,
        body: upsertDocumentsRequestSchema(maxDocumentChars),
        response: { 200: UpsertDocumentsResponseSchema, ...errorResponses(400, 404, 413, 503) },
      },
    },
    async (request) => {
      const started = performance.now()
      const docs = request.body.documents
      if (docs.length > maxBatchDocuments) throw errors.batchTooLarge('documents', docs.length, maxBatchDocuments, 'FUNNEL_MAX_BATCH_DOCUMENTS')
      checkBatch(docs)
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
        params: DocumentParamsSchema,
        response: { 200: DocumentSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const doc = await app.collections.getDocument(request.params.name, request.params.id)
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
        params: DocumentParamsSchema,
        response: { 200: DeleteDocumentResponseSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      await app.collections.deleteDocument(request.params.name, request.params.id)
      return { acknowledged: true as const, id: request.params.id }
    },
  )
}

export default documents
