import type { FastifyInstance } from 'fastify'
import { createProgress } from '../../scripts/lib/progress.js'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { documentText, readCorpus } from '../../src/eval/beir.js'

/**
 * The server's own app, built without listening, so evaluation and benchmarks index and search
 * through exactly the code the REST routes call (collections, models, pipeline), minus HTTP.
 */
export async function openHarness(overrides: Partial<Config>): Promise<FastifyInstance> {
  const config = loadConfig(process.env, { logLevel: 'warn', ...overrides })
  const app = await buildApp(config)
  await app.ready()
  await app.models.embedder(config.embeddingModel)
  return app
}

export interface IndexOptions {
  collection: string
  model?: string
  index?: { dims?: number; m?: number; ef_construction?: number; ef_search?: number }
  settings?: Record<string, unknown>
  batchSize?: number
  /** Reuse an existing collection with the same document count instead of re-indexing. */
  reuse?: boolean
  /**
   * Take each document's full-dimension vector from this collection (same data dir, same model, every
   * corpus document stored) instead of embedding it again: a Matryoshka funnel row at other index
   * dims costs an index build, not hours of embedding. Text and lexical analysis are written as usual.
   */
  vectorsFrom?: string
}

export interface IndexReport {
  documents: number
  seconds: number
  docsPerSecond: number
  reused: boolean
  /** The collection the vectors were copied from (no embedding), when `vectorsFrom` was given. */
  vectorsFrom?: string
}

/** Counts the lines of a corpus so progress can show a total and an ETA. */
async function countDocuments(datasetDir: string): Promise<number> {
  let n = 0
  for await (const _ of readCorpus(datasetDir)) n++
  return n
}

/** Indexes a BEIR corpus into a collection in batches, with progress and ETA on stderr. */
export async function indexBeirCorpus(app: FastifyInstance, datasetDir: string, options: IndexOptions): Promise<IndexReport> {
  const total = await countDocuments(datasetDir)
  const existing = await app.backend.getCollection(options.collection)
  if (existing !== undefined && options.reuse === true && (await app.backend.collectionStats(options.collection)).count === total) {
    return { documents: total, seconds: 0, docsPerSecond: 0, reused: true }
  }
  const source = options.vectorsFrom === undefined ? undefined : await app.backend.getCollection(options.vectorsFrom)
  if (options.vectorsFrom !== undefined) {
    if (source === undefined) throw new Error(`--vectors-from ${options.vectorsFrom}: no such collection in this data dir`)
    if (options.model !== undefined && source.model !== options.model) throw new Error(`--vectors-from ${options.vectorsFrom}: its model is ${source.model}, not ${options.model}`)
    if (options.vectorsFrom === options.collection) throw new Error('--vectors-from must name another collection than the one being built')
  }
  if (existing !== undefined) await app.collections.drop(options.collection)
  await app.collections.create({
    name: options.collection,
    ...(options.model !== undefined && { model: options.model }),
    ...(options.index !== undefined && { index: options.index }),
    ...(options.settings !== undefined && { settings: options.settings }),
  })
  const progress = createProgress({ label: `indexing ${options.collection}`, total })
  const started = performance.now()
  const batchSize = options.batchSize ?? 64
  let batch: { id: string; text: string }[] = []
  const flush = async () => {
    if (batch.length === 0) return
    if (source === undefined) await app.collections.upsert(options.collection, batch)
    else {
      const vectors = await app.backend.vectors(source.name, batch.map((d) => d.id))
      const missing = batch.find((d) => !vectors.has(d.id))
      if (missing !== undefined) throw new Error(`--vectors-from ${source.name}: document ${missing.id} is not stored there`)
      await app.backend.upsert(options.collection, batch.map((d) => ({ id: d.id, text: d.text, metadata: null, vector: vectors.get(d.id)! })))
    }
    progress.tick(batch.length)
    batch = []
  }
  for await (const doc of readCorpus(datasetDir)) {
    // Empty documents (Cranfield has two) are indexed as a single space-free placeholder so counts match.
    batch.push({ id: doc.id, text: documentText(doc).trim() === '' ? '(empty)' : documentText(doc) })
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  progress.done()
  const seconds = (performance.now() - started) / 1000
  return { documents: total, seconds, docsPerSecond: total / seconds, reused: false, ...(source !== undefined && { vectorsFrom: source.name }) }
}
