/**
 * The storage seam: everything Funnel keeps (collections, documents, both vectors of each document,
 * the lexical index, calibrators) and the first-pass retrieval that runs next to the data (HNSW at
 * the index dims, exact rescoring at full dims, BM25, metadata filters). The pipeline talks to this
 * interface only; it never sees SQLite, hnswlib, FTS5 or a cluster client.
 *
 * Two implementations: `EmbeddedBackend` (one process: SQLite + hnswlib + FTS5, the default) and a
 * distributed one (a Weaviate cluster, named vectors `prefix` + `full`, server-side BM25 and filters,
 * replication with a write consistency level), behind any number of stateless Funnel replicas.
 *
 * Contract every implementation keeps (the conformance suite in test/store checks it):
 * - An acknowledged `upsert` or `delete` is durable (survives a restart of the process or a node) and
 *   visible at once to `get`, `documents`, `vectors`, `denseSearch` and `lexicalSearch`.
 * - Upserts are idempotent by id: repeating one after a timeout leaves the same state.
 * - Ids, texts and metadata round-trip exactly; vectors round-trip as float32.
 * - Calls on a collection that does not exist reject with `collection_not_found`.
 * - Search results are ordered best first, ties broken by id, and never hold a deleted document.
 *
 * @example
 *   const backend = new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 1000, log })
 *   await backend.createCollection({ name: 'books', model, dims: 384, index_dims: 96, index, settings: {} })
 *   await backend.upsert('books', [{ id: 'a', text: 'the king', metadata: null, vector }])
 *   const { hits } = await backend.denseSearch('books', { vector: query, limit: 10, oversample: 4, rescoreDims: 384 })
 */
import type { CalibratorRepository } from '../calibration/calibrator-repository.js'
import type { TermStatistics, WeightedTerm } from '../retrieval/bm25-index.js'
import type { AnalysisSettings } from '../retrieval/text-analysis.js'
import type { Filter } from '../schemas/search.js'

export type { Filter } from '../schemas/search.js'

export interface IndexSettings {
  m: number
  ef_construction: number
  ef_search: number
}

/** What a collection is created with; fixed for its life except `settings`. */
export interface CollectionSpec {
  name: string
  /** Embedding model id (manifest id or folder). */
  model: string
  /** Full dimensions of the model's vectors (the rescoring dims). */
  dims: number
  /** Dimensions the ANN index holds: a Matryoshka prefix of each vector, or `dims`. */
  index_dims: number
  index: IndexSettings
  /** Lexical analysis (`settings.lexical`), default mode and other per-collection settings. */
  settings: Record<string, unknown>
}

export interface CollectionRecord extends CollectionSpec {
  created_at: string
}

export interface CollectionStats {
  count: number
  size_on_disk_bytes: number
  /** Vectors the ANN index holds (equal to `count` when healthy). */
  index_vectors: number
  /** Slots of deleted vectors waiting to be reused (0 where the engine reclaims them itself). */
  deleted_slots: number
  /** Memory allocated for rescoring vectors kept in memory (absent or 0 where none are kept). */
  rescore_memory_bytes?: number
}

export interface DocumentWrite {
  id: string
  text: string
  metadata: Record<string, unknown> | null
  /** Full-dimension, L2-normalised vector. */
  vector: Float32Array
}

export interface StoredDocument {
  id: string
  text: string
  metadata: Record<string, unknown> | null
  vector: Float32Array
}

/** A document's text and metadata, read for the hits a stage or the response needs. */
export interface DocumentBody {
  text: string
  metadata: Record<string, unknown> | null
}

export interface ScoredId {
  id: string
  score: number
}

export interface DenseQuery {
  /** Full-dimension query vector; the backend truncates it to the index dims itself. */
  vector: Float32Array
  /** Hits to return. */
  limit: number
  /** The ANN search fetches limit × oversample candidates at the index dims before exact rescoring. */
  oversample: number
  /** Dims for the exact rescoring (the model's full dims unless the request asks for fewer). */
  rescoreDims: number
  /** The ANN walk width the request asked for (see the search request's ef_search). */
  efSearch?: number
  filter?: Filter
}

export interface DenseResult {
  hits: ScoredId[]
  retrieve_ms: number
  rescore_ms: number
  /** 'hnsw' normally; 'hnsw_pool' when the shortlist came from the candidate pool; 'exact' when a selective filter made brute force over the matches cheaper. */
  strategy: 'hnsw' | 'hnsw_pool' | 'exact'
}

/** A BM25 query: a query string (refused past `maxTerms` distinct analysed terms) or RM3's weighted terms. */
export type LexicalQuery = ({ query: string; maxTerms?: number } | { terms: readonly WeightedTerm[] }) & { limit: number; filter?: Filter }

/** Why a collection is not usable yet; undefined when every collection is open. */
export type Readiness = string | undefined

export interface Backend {
  /** 'embedded' or the distributed engine's name; reported by /readyz and the metrics. */
  readonly kind: string

  /**
   * Brings one existing collection's indexes up (the embedded backend loads its HNSW file and replays
   * newer writes; an engine that keeps its own indexes has nothing to do). Called once per collection
   * at boot, before any request on it runs.
   */
  openCollection(collection: CollectionRecord): Promise<void>
  /** Housekeeping once every collection has been opened (e.g. removing files of dropped collections). */
  afterOpen(): Promise<void>
  /** Why the backend itself cannot serve (storage closed, cluster unreachable); undefined when it can. */
  notReady(): Readiness
  /** Serving, but with reduced redundancy (a replica node down); undefined when fully healthy. */
  degraded?(): string | undefined
  /** Saves and releases everything; the backend is unusable afterwards. */
  close(): Promise<void>

  createCollection(spec: CollectionSpec): Promise<CollectionRecord>
  getCollection(name: string): Promise<CollectionRecord | undefined>
  listCollections(): Promise<CollectionRecord[]>
  /** Removes the collection, its documents, vectors and indexes; false when it did not exist. */
  dropCollection(name: string): Promise<boolean>
  collectionStats(name: string): Promise<CollectionStats>

  /**
   * Inserts or replaces documents by id. The lexical side indexes Funnel's own analysed terms (the
   * collection's `settings.lexical`), so every engine's BM25 sees the same tokens.
   */
  upsert(collection: string, docs: readonly DocumentWrite[]): Promise<void>
  /** Deletes documents by id; returns the ids that existed. */
  delete(collection: string, ids: readonly string[]): Promise<string[]>
  getDocument(collection: string, id: string): Promise<StoredDocument | undefined>
  /** Text and metadata of the given ids; ids no longer stored are absent. */
  documents(collection: string, ids: readonly string[]): Promise<Map<string, DocumentBody>>
  /** Full-dimension vectors of the given ids; ids no longer stored are absent. */
  vectors(collection: string, ids: readonly string[]): Promise<Map<string, Float32Array>>

  /** The Matryoshka funnel: ANN at the index dims for limit × oversample, exact cosine at rescoreDims. */
  denseSearch(collection: string, query: DenseQuery): Promise<DenseResult>
  /** BM25 over the collection's analysed text, filtered server-side, best first. */
  lexicalSearch(collection: string, query: LexicalQuery): Promise<ScoredId[]>
  /**
   * What RM3 reads about the feedback documents `ids` (their term counts, the collection's document
   * frequencies and size), as a snapshot taken now.
   */
  termStatistics(collection: string, ids: readonly string[]): Promise<TermStatistics>
  /** The lexical analysis a collection was created with. */
  analysis(collection: CollectionRecord): AnalysisSettings

  /** Where fitted calibrators are kept (beside the documents, so every replica sees the same ones). */
  readonly calibrators: CalibratorRepository
}
