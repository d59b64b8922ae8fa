import type { TSchema } from 'typebox'
import { EmbeddingsRequest, EmbeddingsResponse } from './embeddings.js'
import { RelevanceSource, RerankRequest, RerankResponse } from './rerank.js'
import { RerankV2Request, RerankV2Response } from './rerank-v2.js'
import { CollectionInfoSchema, ErrorResponse } from './schemas.js'
import { FilterSchema, SearchResponse } from './search.js'

/**
 * Every named schema (`$id`), added to the app once before the routes that `ref()` them. They become
 * the OpenAPI document's `components.schemas`, so generated clients name their types after them.
 */
export const COMPONENT_SCHEMAS: readonly TSchema[] = [
  ErrorResponse,
  CollectionInfoSchema,
  FilterSchema,
  SearchResponse,
  EmbeddingsRequest,
  EmbeddingsResponse,
  RerankRequest,
  RerankResponse,
  RerankV2Request,
  RerankV2Response,
  RelevanceSource,
]
