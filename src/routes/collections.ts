import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ref } from './named-schema.js'
import { CollectionInfoSchema, CollectionName, IndexSettingsSchema, StringEnum, errorResponses } from './schemas.js'

const Params = Type.Object({ name: CollectionName })

const collections: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/collections',
    {
      schema: {
        operationId: 'createCollection',
        tags: ['collections'],
        summary: 'Create a collection',
        body: Type.Object(
          {
            name: CollectionName,
            model: Type.Optional(Type.String({ minLength: 1, description: 'embedding model id (default: the server default)' })),
            index: Type.Optional(Type.Partial(IndexSettingsSchema, { additionalProperties: false })),
            lexical: Type.Optional(
              Type.Object(
                {
                  stemming: Type.Optional(StringEnum(['porter', 'none'], { description: 'default porter' })),
                  stopwords: Type.Optional(StringEnum(['english', 'none'], { description: 'default english (Lucene list)' })),
                },
                { additionalProperties: false, description: 'BM25 analysis (lowercasing is always on)' },
              ),
            ),
            default_mode: Type.Optional(
              StringEnum(['dense', 'lexical', 'hybrid'], { description: "search mode when a request names none; default: the model's recommended mode" }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: ref(CollectionInfoSchema), ...errorResponses(400, 409, 503) },
      },
    },
    async (request, reply) => {
      const { lexical, default_mode, ...rest } = request.body
      const settings = {
        lexical: { lowercase: true, stemming: lexical?.stemming ?? 'porter', stopwords: lexical?.stopwords ?? 'english' },
        ...(default_mode !== undefined && { default_mode }),
      }
      const info = await app.collections.create({ ...rest, settings })
      request.log.info({ collection: info.name, model: info.model, index_dims: info.index.dims }, 'collection created')
      return reply.code(201).send(info)
    },
  )

  app.get(
    '/v1/collections',
    {
      schema: {
        operationId: 'listCollections',
        tags: ['collections'],
        summary: 'List collections',
        response: { 200: Type.Object({ collections: Type.Array(ref(CollectionInfoSchema)) }) },
      },
    },
    async () => ({ collections: await app.collections.list() }),
  )

  app.get(
    '/v1/collections/:name',
    {
      schema: {
        operationId: 'getCollection',
        tags: ['collections'],
        summary: 'Describe a collection: count, model, dims, index dims, size on disk',
        params: Params,
        response: { 200: ref(CollectionInfoSchema), ...errorResponses(400, 404) },
      },
    },
    async (request) => app.collections.describe(request.params.name),
  )

  app.delete(
    '/v1/collections/:name',
    {
      schema: {
        operationId: 'deleteCollection',
        tags: ['collections'],
        summary: 'Delete a collection and all its documents',
        params: Params,
        response: { 200: Type.Object({ acknowledged: Type.Literal(true), name: Type.String() }), ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      await app.collections.drop(request.params.name)
      return { acknowledged: true as const, name: request.params.name }
    },
  )
}

export default collections
