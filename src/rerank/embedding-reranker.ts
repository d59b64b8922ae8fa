import { EmbeddingModel, type Pooling } from '../inference/embedding-model.js'
import type { Candidate } from '../candidate.js'
import { PassageVectorCache } from './passage-vector-cache.js'
import { resolveTopN, type RankOptions, type RankOutcome, type Reranker } from './reranker.js'

export interface EmbeddingRerankerOptions {
  /** A sentence-transformers style ONNX export (onnx/model.onnx, tokenizer.json, 1_Pooling/config.json). */
  modelDir: string
  /** Model id: the name in timings and errors, and the passage-cache key (default: the folder name). */
  name?: string
  /** Query/document prefixes (bge's query instruction, e5's "query: "/"passage: "); from the models manifest. */
  prefixes?: { query: string; document: string }
  pooling?: Pooling
  maxLength?: number
  /** Passage vectors kept across calls (default 20,000; 0 disables the cache). */
  cacheEntries?: number
  batchSize?: number
  intraOpThreads?: number
  /** Run the ONNX session on a worker thread, so embedding does not block the event loop. */
  worker?: boolean
}

const defaultCacheEntries = 20_000

/**
 * An embedding rerank stage: a (usually bigger) bi-encoder than the first stage's rescoring its
 * candidates by the cosine of query and passage vectors, each embedded with the model's own prefix.
 * Passage vectors are cached by model and text hash, so candidates that recur across queries are
 * embedded once. It puts a bigger embedder late in the cascade, as Vespa's phased ranking does, and
 * mixes with cross-encoder and LLM stages in `rerank.stages`.
 *
 * @example
 *   const bge = await EmbeddingReranker.load({ modelDir: 'models/BAAI/bge-small-en-v1.5', prefixes: { query: 'Represent this sentence for searching relevant passages: ', document: '' } })
 *   const { candidates } = await bge.rank('what is bm25?', bm25Top100, { topN: 30 })
 */
export class EmbeddingReranker implements Reranker {
  readonly scoreKey = 'embedding' as const

  private constructor(
    readonly name: string,
    private readonly model: EmbeddingModel,
    private readonly cache: PassageVectorCache,
  ) {}

  static async load(options: EmbeddingRerankerOptions): Promise<EmbeddingReranker> {
    const name = options.name ?? options.modelDir.split(/[\\/]/).filter(Boolean).pop() ?? 'embedding'
    const model = await EmbeddingModel.load(options.modelDir, {
      id: name,
      normalize: true,
      ...(options.prefixes !== undefined && { prefixes: options.prefixes }),
      ...(options.pooling !== undefined && { pooling: options.pooling }),
      ...(options.maxLength !== undefined && { maxLength: options.maxLength }),
      ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
      session: { intraOpThreads: options.intraOpThreads ?? 0, worker: options.worker === true },
    })
    return new EmbeddingReranker(name, model, new PassageVectorCache({ maxEntries: options.cacheEntries ?? defaultCacheEntries }))
  }

  get maxLength(): number {
    return this.model.maxLength
  }

  /** Whether the model's onnxruntime session runs on a worker thread. */
  get onWorker(): boolean {
    return this.model.onWorker
  }

  /** Cosine of the query with each passage, in passage order, plus how many passages were cut to fit. */
  async score(query: string, passages: readonly string[], signal?: AbortSignal): Promise<{ scores: Float32Array; truncatedPassages: number }> {
    const [queryVector] = (await this.model.embed([query], 'query')).vectors
    signal?.throwIfAborted()
    let truncatedPassages = 0
    const vectors = await this.cache.embedAll(this.name, passages, async (missing) => {
      const batch = await this.model.embed(missing, 'document')
      truncatedPassages = batch.truncated.filter(Boolean).length
      return batch.vectors
    })
    return { scores: Float32Array.from(vectors, (v) => dot(queryVector!, v)), truncatedPassages }
  }

  async rank(query: string, candidates: Candidate[], options: RankOptions = {}): Promise<RankOutcome> {
    const keep = resolveTopN(options.topN, candidates.length)
    const { scores, truncatedPassages } = await this.score(query, candidates.map((c) => c.text), options.signal)
    const scored = candidates.map((c, i) => ({ ...c, score: scores[i]!, scores: { ...c.scores, embedding: scores[i]! } }))
    // Stable sort: equal cosines keep the incoming order.
    scored.sort((a, b) => b.score - a.score)
    return { candidates: scored.slice(0, keep), truncatedPassages }
  }

  cacheStats(): ReturnType<PassageVectorCache['stats']> {
    return this.cache.stats()
  }

  async dispose(): Promise<void> {
    this.cache.clear()
    await this.model.dispose()
  }
}

/** Vectors are L2-normalised, so the dot product is the cosine. */
function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!
  return sum
}
