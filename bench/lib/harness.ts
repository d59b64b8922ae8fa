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
}

export interface IndexReport {
  documents: number
  seconds: number
  docsPerSecond: number
  reused: boolean
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
    await app.collections.upsert(options.collection, batch)
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
  return { documents: total, seconds, docsPerSecond: total / seconds, reused: false }
}
