import { Type, type Static } from 'typebox'
import { CollectionName, StringEnum, ref } from './common.js'
import { RETRIEVAL_MODES } from './search.js'

/** Path parameters of every route under /v1/collections/:name. */
export const CollectionParamsSchema = Type.Object({ name: CollectionName })

export const IndexSettingsSchema = Type.Object(
  {
    dims: Type.Integer({ minimum: 1, description: 'dimensions kept in the HNSW index (Matryoshka truncation); default: model dims' }),
    m: Type.Integer({ minimum: 2, maximum: 128, description: 'HNSW links per node (default 16)' }),
    ef_construction: Type.Integer({ minimum: 8, maximum: 4096, description: 'HNSW build beam width (default 200)' }),
    ef_search: Type.Integer({ minimum: 1, maximum: 4096, description: 'HNSW search beam width (default 64)' }),
  },
  { additionalProperties: false },
)
export type IndexSettings = Static<typeof IndexSettingsSchema>

/**
 * Where the embedded backend keeps the full vectors it rescores a shortlist with: in memory as
 * float32, float16 or int8 (+ a float32 scale per vector), or `disk` (read from SQLite per candidate).
 */
export const RESCORE_VECTORS = ['float16', 'int8', 'float32', 'disk'] as const
export type RescoreVectors = (typeof RESCORE_VECTORS)[number]

/**
 * The default where a collection names none. A truncated index rescores every search: float16, no
 * measured nDCG@10 change at half of float32's memory (docs/benchmarks/matryoshka.md). A full-dim
 * index uses HNSW's scores as they are and rescores only for `dimensions` or a selective filter, so
 * memory would be spent for little: disk.
 */
export function defaultRescoreVectors(indexDims: number, dims: number): RescoreVectors {
  return indexDims < dims ? 'float16' : 'disk'
}

export const CreateCollectionRequestSchema = Type.Object(
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
      StringEnum(RETRIEVAL_MODES, { description: "search mode when a request names none; default: the model's recommended mode" }),
    ),
    rescore_vectors: Type.Optional(
      StringEnum(RESCORE_VECTORS, {
        description:
          'embedded backend: how the full vectors used for rescoring are kept in memory (float16 2 B/dim, int8 1 B/dim + 4 B, float32 4 B/dim; each + 8 B for its norm) or `disk` to read them from SQLite per candidate; default float16 when index.dims is below the model dims, else disk',
      }),
    ),
  },
  { additionalProperties: false },
)
export type CreateCollectionRequest = Static<typeof CreateCollectionRequestSchema>

/** What describing a collection answers (component `Collection`). */
export const CollectionInfoSchema = Type.Object({
  name: Type.String(),
  model: Type.String({ description: 'embedding model id' }),
  dims: Type.Integer({ description: 'full embedding dimensions (stored and used for rescoring)' }),
  index: Type.Object({ dims: Type.Integer(), m: Type.Integer(), ef_construction: Type.Integer(), ef_search: Type.Integer() }),
  settings: Type.Record(Type.String(), Type.Unknown()),
  count: Type.Integer({ description: 'number of documents' }),
  size_on_disk_bytes: Type.Integer(),
  rescore_memory_bytes: Type.Integer({ description: 'memory allocated for the in-memory rescoring vectors (0 for `disk` or a backend that keeps none)' }),
  created_at: Type.String({ format: 'date-time' }),
}, { $id: 'Collection' })
export type CollectionInfo = Static<typeof CollectionInfoSchema>

export const ListCollectionsResponseSchema = Type.Object({ collections: Type.Array(ref(CollectionInfoSchema)) })
export type ListCollectionsResponse = Static<typeof ListCollectionsResponseSchema>

export const DeleteCollectionResponseSchema = Type.Object({ acknowledged: Type.Literal(true), name: Type.String() })
export type DeleteCollectionResponse = Static<typeof DeleteCollectionResponseSchema>
