import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CollectionInfoSchema,
  CollectionParamsSchema,
  CreateCollectionRequestSchema,
  DeleteCollectionResponseSchema,
  ListCollectionsResponseSchema,
} from '../schemas/collections.js'
import { ref } from '../schemas/common.js'
import { errorResponses } from '../schemas/errors.js'

const collections: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/collections',
    {
      schema: {
        operationId: 'createCollection',
        tags: ['collections'],
        summary: 'Create a collection',
        body: CreateCollectionRequestSchema,
        response: { 201: ref(CollectionInfoSchema), ...errorResponses(400, 409, 503) },
      },
    },
    async (request, reply) => {
      const { lexical, default_mode, rescore_vectors, ...rest } = request.body
      const settings = {
        lexical: { lowercase: true, stemming: lexical?.stemming ?? 'porter', stopwords: lexical?.stopwords ?? 'english' },
        ...(default_mode !== undefined && { default_mode }),
        ...(rescore_vectors !== undefined && { rescore_vectors }),
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
        response: { 200: ListCollectionsResponseSchema },
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
        params: CollectionParamsSchema,
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
        params: CollectionParamsSchema,
        response: { 200: DeleteCollectionResponseSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      await app.collections.drop(request.params.name)
      return { acknowledged: true as const, name: request.params.name }
    },
  )
}

export default collections
