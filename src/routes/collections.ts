import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CollectionInfoSchema, CollectionName, IndexSettingsSchema, errorResponses } from './schemas.js'

const Params = Type.Object({ name: CollectionName })

const collections: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/collections',
    {
      schema: {
        tags: ['collections'],
        summary: 'Create a collection',
        body: Type.Object(
          {
            name: CollectionName,
            model: Type.Optional(Type.String({ minLength: 1, description: 'embedding model id (default: the server default)' })),
            index: Type.Optional(Type.Partial(IndexSettingsSchema)),
          },
          { additionalProperties: false },
        ),
        response: { 201: CollectionInfoSchema, ...errorResponses(400, 409, 503) },
      },
    },
    async (request, reply) => {
      const info = await app.collections.create(request.body)
      request.log.info({ collection: info.name, model: info.model, index_dims: info.index.dims }, 'collection created')
      return reply.code(201).send(info)
    },
  )

  app.get(
    '/v1/collections',
    {
      schema: {
        tags: ['collections'],
        summary: 'List collections',
        response: { 200: Type.Object({ collections: Type.Array(CollectionInfoSchema) }) },
      },
    },
    async () => ({ collections: await app.collections.list() }),
  )

  app.get(
    '/v1/collections/:name',
    {
      schema: {
        tags: ['collections'],
        summary: 'Describe a collection: count, model, dims, index dims, size on disk',
        params: Params,
        response: { 200: CollectionInfoSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => app.collections.describe(request.params.name),
  )

  app.delete(
    '/v1/collections/:name',
    {
      schema: {
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
