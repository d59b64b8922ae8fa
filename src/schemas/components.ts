import type { TSchema } from 'typebox'
import { CollectionInfoSchema } from './collections.js'
import { EmbeddingsRequestSchema, EmbeddingsResponseSchema } from './embeddings.js'
import { ErrorResponseSchema } from './errors.js'
import { RelevanceSourceSchema, RerankRequestSchema, RerankResponseSchema } from './rerank.js'
import { RerankV2RequestSchema, RerankV2ResponseSchema } from './rerank-v2.js'
import { FilterSchema, SearchResponseSchema } from './search.js'

/**
 * Every named schema (`$id`), added to the app once before the routes that `ref()` them. They become
 * the OpenAPI document's `components.schemas`, so generated clients name their types after them.
 */
export const COMPONENT_SCHEMAS: readonly TSchema[] = [
  ErrorResponseSchema,
  CollectionInfoSchema,
  FilterSchema,
  SearchResponseSchema,
  EmbeddingsRequestSchema,
  EmbeddingsResponseSchema,
  RerankRequestSchema,
  RerankResponseSchema,
  RerankV2RequestSchema,
  RerankV2ResponseSchema,
  RelevanceSourceSchema,
]
