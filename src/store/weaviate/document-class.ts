import weaviate, { type WeaviateClient } from 'weaviate-client'
import type { CollectionSpec } from '../backend.js'

/** The named vectors of every document: the ANN index at `index_dims`, and the full vector for exact rescoring. */
export const PREFIX_VECTOR = 'prefix'
export const FULL_VECTOR = 'full'

/**
 * Properties of a document object:
 * - `doc_id`: Funnel's id (the object UUID is derived from it; kept for reading hits back);
 * - `text`: the document text as given, stored only;
 * - `analysed_text`: Funnel's analysed terms (text-analysis.ts: segmentation, stop words, Porter)
 *   joined by spaces, whitespace-tokenized, so Weaviate's BM25 sees exactly the terms FTS5 indexes in
 *   the embedded backend (Weaviate itself has no stemmer); also filterable, for document frequencies;
 * - `metadata_json`: the metadata as JSON, stored only (it round-trips exactly);
 * - `meta_terms`: one field-tokenized term per top-level scalar metadata entry, for filters
 *   (metadata-terms.ts explains why not one property per key);
 * - `write_id`: the upsert call that wrote this version, so Funnel can tell when every node's
 *   replica shows it (an overwrite keeps the object's id).
 */
const DOCUMENT_PROPERTIES = [
  { name: 'doc_id', dataType: 'text' as const, tokenization: 'field' as const, indexFilterable: true, indexSearchable: false },
  { name: 'text', dataType: 'text' as const, indexFilterable: false, indexSearchable: false },
  { name: 'analysed_text', dataType: 'text' as const, tokenization: 'whitespace' as const, indexFilterable: true, indexSearchable: true },
  { name: 'metadata_json', dataType: 'text' as const, indexFilterable: false, indexSearchable: false },
  { name: 'meta_terms', dataType: 'text[]' as const, tokenization: 'field' as const, indexFilterable: true, indexSearchable: false },
  { name: 'write_id', dataType: 'text' as const, tokenization: 'field' as const, indexFilterable: true, indexSearchable: false },
]

/** FTS5's fixed BM25 parameters: the two backends rank with the same formula constants. */
const BM25_K1 = 1.2
const BM25_B = 0.75

export interface DocumentClassOptions {
  replicationFactor: number
  /**
   * Shards per collection. Weaviate computes BM25's document frequencies and average length per
   * shard, so one shard ranks exactly as one FTS5 index does; more shards spread a corpus too large
   * for one node, at the price of slightly different BM25 scores per shard.
   */
  shards: number
}

/**
 * Creates the Weaviate class of a Funnel collection: `prefix` is an HNSW index over the first
 * `index_dims` components (cosine, the collection's m / ef_construction / ef_search, no quantization,
 * so it matches hnswlib's exact-distance graph); `full` is a flat index, which stores the full vector
 * and returns it with each hit for the exact rescoring Funnel does itself. Replication is `factor`
 * copies with async repair on, so a node that was down catches up on the writes it missed, and
 * conflicting deletes resolve by time.
 */
export async function createDocumentClass(client: WeaviateClient, className: string, spec: CollectionSpec, options: DocumentClassOptions): Promise<void> {
  const { vectors, vectorIndex, invertedIndex, replication } = weaviate.configure
  await client.collections.create({
    name: className,
    description: `Funnel collection ${JSON.stringify(spec.name)}`,
    properties: DOCUMENT_PROPERTIES,
    vectorizers: [
      vectors.selfProvided({
        name: PREFIX_VECTOR,
        vectorIndexConfig: vectorIndex.hnsw({
          distanceMetric: 'cosine',
          maxConnections: spec.index.m,
          efConstruction: spec.index.ef_construction,
          ef: spec.index.ef_search,
          quantizer: vectorIndex.quantizer.none(),
        }),
      }),
      vectors.selfProvided({
        name: FULL_VECTOR,
        vectorIndexConfig: vectorIndex.flat({ distanceMetric: 'cosine', quantizer: vectorIndex.quantizer.none() as never }),
      }),
    ],
    invertedIndex: invertedIndex({
      bm25k1: BM25_K1,
      bm25b: BM25_B,
      // Funnel removes stop words itself (or keeps them, per the collection's analysis settings).
      stopwordsPreset: 'none',
      indexNullState: false,
      indexPropertyLength: false,
      indexTimestamps: false,
    }),
    replication: replication({ factor: options.replicationFactor, asyncEnabled: true, deletionStrategy: 'TimeBasedResolution' }),
    sharding: weaviate.configure.sharding({ desiredCount: options.shards }),
  })
}
