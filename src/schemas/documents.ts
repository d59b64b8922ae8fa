import { Type, type Static } from 'typebox'
import { CollectionName, Metadata } from './common.js'

export const DocumentId = Type.String({ minLength: 1, maxLength: 512, description: 'document id, unique within the collection' })

export const DocumentParamsSchema = Type.Object({ name: CollectionName, id: DocumentId })

/** One document of an upsert; `maxDocumentChars` is FUNNEL_MAX_DOCUMENT_CHARS, stated in the document. */
export const upsertDocumentSchema = (maxDocumentChars: number) =>
  Type.Object(
    {
      id: DocumentId,
      text: Type.String({ minLength: 1, maxLength: maxDocumentChars, description: `text to embed and store; at most FUNNEL_MAX_DOCUMENT_CHARS characters, counted as UTF-16 code units (${maxDocumentChars} on this server)` }),
      metadata: Type.Optional(Metadata),
    },
    { additionalProperties: false },
  )
export type UpsertDocument = Static<ReturnType<typeof upsertDocumentSchema>>

export const upsertDocumentsRequestSchema = (maxDocumentChars: number) =>
  Type.Object(
    {
      documents: Type.Array(upsertDocumentSchema(maxDocumentChars), { minItems: 1, description: `at most FUNNEL_MAX_BATCH_DOCUMENTS (default 1000) per request` }),
    },
    { additionalProperties: false },
  )
export type UpsertDocumentsRequest = Static<ReturnType<typeof upsertDocumentsRequestSchema>>

export const UpsertDocumentsResponseSchema = Type.Object({
  upserted: Type.Integer(),
  truncated: Type.Array(Type.String(), { description: 'ids whose text was cut to the model maximum length before embedding' }),
  timings: Type.Object({ embed_ms: Type.Number(), total_ms: Type.Number() }),
})
export type UpsertDocumentsResponse = Static<typeof UpsertDocumentsResponseSchema>

export const DocumentSchema = Type.Object({ id: DocumentId, text: Type.String(), metadata: Type.Optional(Metadata) })
export type Document = Static<typeof DocumentSchema>

export const DeleteDocumentResponseSchema = Type.Object({ acknowledged: Type.Literal(true), id: Type.String() })
export type DeleteDocumentResponse = Static<typeof DeleteDocumentResponseSchema>
