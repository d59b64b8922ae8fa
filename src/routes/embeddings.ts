import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import { errors } from '../errors.js'
import { checkDimensions } from '../pipeline/collections.js'
import { truncateAndNormalize } from '../retrieval/vector-math.js'
import { ref } from '../schemas/common.js'
import { EmbeddingsRequestSchema, EmbeddingsResponseSchema, type EmbeddingsRequest } from '../schemas/embeddings.js'
import { errorResponses } from '../schemas/errors.js'

const isTokenIds = (value: unknown): boolean => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number')

/**
 * OpenAI's `input` also takes token ids (number[] or number[][]) and its SDKs send them; schema
 * validation would only say "must be string", so these shapes get their own answer first.
 */
function checkInputShape(body: unknown): void {
  const input = (body as { input?: unknown } | null)?.input
  if (!Array.isArray(input)) return
  if (input.length === 0) throw errors.invalidRequest('input', 'must contain at least one string')
  if (isTokenIds(input) || input.every(isTokenIds)) {
    throw errors.invalidRequest('input', 'token ids are not supported; pass text (a string or an array of strings) and the server tokenizes it')
  }
}

/** One vector as the request asks for it: cut to `dimensions` and renormalised when set; floats, or base64 little-endian float32. */
function encode(vector: Float32Array, request: EmbeddingsRequest): number[] | string {
  const v = request.dimensions === undefined ? vector : truncateAndNormalize(vector, request.dimensions)
  return request.encoding_format === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v)
}

/** OpenAI-compatible embeddings, so existing OpenAI clients work by changing the base URL. */
const embeddings: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, opts) => {
  app.post(
    '/v1/embeddings',
    {
      schema: {
        operationId: 'embed',
        tags: ['embeddings'],
        summary: 'Create embeddings (OpenAI-compatible)',
        body: ref(EmbeddingsRequestSchema),
        response: { 200: ref(EmbeddingsResponseSchema), ...errorResponses(400, 413, 503) },
      },
      preValidation: async (request) => checkInputShape(request.body),
    },
    async (request) => {
      const { body } = request
      const texts = typeof body.input === 'string' ? [body.input] : body.input
      if (texts.length > opts.config.maxEmbeddingInputs) throw errors.tooManyInputs('input', texts.length, opts.config.maxEmbeddingInputs, 'FUNNEL_MAX_EMBEDDING_INPUTS')
      texts.forEach((t, i) => {
        if (t.trim() === '') throw errors.invalidValue(typeof body.input === 'string' ? 'input' : `input[${i}]`, t, 'texts must contain a non-whitespace character')
      })
      const model = await app.models.embedder(body.model ?? app.models.defaultModelId)
      if (body.dimensions !== undefined) checkDimensions('dimensions', body.dimensions, model.dims, model.matryoshkaDims)
      const result = await model.embed(texts, body.input_type ?? 'document')
      const tokens = result.tokenCounts.reduce((a, b) => a + b, 0)
      return {
        object: 'list' as const,
        data: result.vectors.map((vector, index) => ({ object: 'embedding' as const, index, embedding: encode(vector, body) })),
        model: model.id,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
        truncated: result.truncated.flatMap((t, i) => (t ? [i] : [])),
      }
    },
  )
}

export default embeddings
