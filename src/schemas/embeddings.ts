import { Type, type Static } from 'typebox'
import { StringEnum } from './common.js'

/** POST /v1/embeddings: OpenAI's request; token ids are refused before validation (see the route). */
export const EmbeddingsRequestSchema = Type.Object(
  {
    input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], {
      description: 'a text or a non-empty array of texts (at most FUNNEL_MAX_EMBEDDING_INPUTS); token ids are not accepted',
    }),
    model: Type.Optional(Type.String({ minLength: 1, description: 'embedding model id (default: the server default)' })),
    dimensions: Type.Optional(Type.Integer({ minimum: 1, description: "Matryoshka truncation: first n dims, renormalised; one of the model's supported dimensions" })),
    encoding_format: Type.Optional(StringEnum(['float', 'base64'], { description: 'default float' })),
    input_type: Type.Optional(StringEnum(['query', 'document'], { description: 'selects the model prefix (e5, nomic); default document' })),
    user: Type.Optional(Type.String()),
  },
  { additionalProperties: false, $id: 'EmbeddingsRequest' },
)
export type EmbeddingsRequest = Static<typeof EmbeddingsRequestSchema>

export const EmbeddingsResponseSchema = Type.Object(
  {
    object: Type.Literal('list'),
    data: Type.Array(
      Type.Object({
        object: Type.Literal('embedding'),
        index: Type.Integer(),
        embedding: Type.Union([Type.Array(Type.Number()), Type.String({ description: 'base64 little-endian float32 when encoding_format=base64' })]),
      }),
    ),
    model: Type.String(),
    usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
    truncated: Type.Array(Type.Integer(), { description: 'indexes of inputs cut to the model maximum length' }),
  },
  { $id: 'EmbeddingsResponse' },
)
export type EmbeddingsResponse = Static<typeof EmbeddingsResponseSchema>
