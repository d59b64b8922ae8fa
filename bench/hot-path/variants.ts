import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { corpusDocuments, queryTexts } from '../lib/datasets.js'
import { chooseModel } from '../lib/models.js'
import { startServer, stopServer } from '../lib/server.js'
import { preload } from '../load/load-driver.js'

/**
 * Server settings that switch the embedding hot-path changes on one at a time, for the benchmarks
 * and profiles that compare them side by side (bench-hot-path.ts, ../profile/profile-search.ts).
 * Each variant is a set of server settings; the first four are the hot-path changes one at a time.
 */
export const VARIANTS: Record<string, { describe: string; env: Record<string, string> }> = {
  'session-1': {
    describe: 'the settings session 1 shipped (on this code): onnxruntime spinning threads, no micro-batcher, cuts every 32 inputs, no cache',
    env: { FUNNEL_ONNX_SPINNING: 'true', FUNNEL_MICRO_BATCH: 'false', FUNNEL_EMBED_MAX_PADDING_RATIO: '1000', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  'spinning-off': {
    describe: 'idle onnxruntime threads sleep instead of spinning',
    env: { FUNNEL_ONNX_SPINNING: 'false', FUNNEL_MICRO_BATCH: 'false', FUNNEL_EMBED_MAX_PADDING_RATIO: '1000', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  'micro-batch': {
    describe: 'spinning off + micro-batcher, runs cut every 32 inputs',
    env: { FUNNEL_ONNX_SPINNING: 'false', FUNNEL_MICRO_BATCH: 'true', FUNNEL_EMBED_MAX_PADDING_RATIO: '1000', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  'micro-batch+cuts': {
    describe: 'spinning off + micro-batcher + runs cut where padding passes 1.2x (the defaults now, cache off)',
    env: { FUNNEL_ONNX_SPINNING: 'false', FUNNEL_MICRO_BATCH: 'true', FUNNEL_EMBED_MAX_PADDING_RATIO: '1.2', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  default: {
    describe: 'the defaults now: as micro-batch+cuts, with the 1024-entry query cache',
    env: {},
  },
  worker: {
    describe: 'the defaults with the embedding model on a worker thread (FUNNEL_ONNX_WORKER=true)',
    env: { FUNNEL_ONNX_WORKER: 'true' },
  },
}

/** The names in a comma-separated `--variants` list, refused when one is unknown. */
export function checkVariants(list: string): string[] {
  const names = list.split(',')
  for (const name of names) if (VARIANTS[name] === undefined) throw new Error(`--variants: unknown '${name}'; known: ${Object.keys(VARIANTS).join(', ')}`)
  return names
}

/** One line per variant, for --help. */
export const describeVariants = (): string => Object.entries(VARIANTS).map(([name, v]) => `  ${name}: ${v.describe}`).join('\n')

/** What every variant's server shares: a work folder, the model, the texts, and one preloaded data folder. */
export interface VariantSetup {
  work: string
  model: string
  queries: string[]
  /** Settings every variant starts from (model, warn logs, no rate limit), before its own. */
  base: Record<string, string>
  /** A data folder holding the preloaded collection; each variant runs on a copy. */
  seedDir: string
  preloadSeconds: number
}

/**
 * Picks the model, reads the dataset and preloads `docs` documents into `collection` once, through a
 * server that is then stopped: the variants then differ only in their settings.
 */
export async function prepareVariants(options: { model: string; dataset: string; docs: number; collection: string; workPrefix: string }): Promise<VariantSetup> {
  const work = await mkdtemp(path.join(os.tmpdir(), options.workPrefix))
  const { modelsDir, model } = await chooseModel(options.model, work)
  const corpus = await corpusDocuments(options.dataset, options.docs)
  const queries = await queryTexts(options.dataset)
  const base = { FUNNEL_MODELS_DIR: modelsDir, FUNNEL_EMBEDDING_MODEL: model, FUNNEL_BUILD_DEFAULT_MODEL: 'false', LOG_LEVEL: 'warn', FUNNEL_RATE_LIMIT_RPS: '0' }
  const seedDir = path.join(work, 'data-seed')
  const seed = await startServer({ ...base, FUNNEL_DATA_DIR: seedDir })
  try {
    const ingest = await preload(seed.url, options.collection, model, corpus, options.docs)
    return { work, model, queries, base, seedDir, preloadSeconds: ingest.seconds }
  } finally {
    await stopServer(seed)
  }
}
