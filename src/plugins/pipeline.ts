import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import type { LifecycleProbe } from '../pipeline/collection-lifecycle.js'
import { CollectionService } from '../pipeline/collections.js'
import { LexicalIndexes } from '../pipeline/lexical-indexes.js'
import { SearchPipeline } from '../pipeline/search.js'

declare module 'fastify' {
  interface FastifyInstance {
    collections: CollectionService
    lexicalIndexes: LexicalIndexes
    searchPipeline: SearchPipeline
  }
}

/** Collections (store + HNSW and BM25 indexes, opened in the background) and the search pipeline; saves every index on close. */
export default fp(
  async (app, opts: { config: Config; lifecycleProbe?: LifecycleProbe }) => {
    const { config } = opts
    const collections = new CollectionService({
      store: app.store,
      models: app.models,
      dataDir: config.dataDir,
      indexSaveIntervalMs: config.indexSaveIntervalMs,
      log: (obj, msg) => app.log.info(obj, msg),
      ...(opts.lifecycleProbe !== undefined && { probe: opts.lifecycleProbe }),
    })
    const lexical = new LexicalIndexes(app.store, (obj, msg) => app.log.info(obj, msg))
    collections.addWriteHook(lexical)
    // Indexes open in the background: boot time must not grow with the data or shrink with the
    // machine (Fastify's plugin timeout). /readyz answers 503 naming what is still opening.
    collections.startOpening((row) => lexical.open(row))
    app.decorate('collections', collections)
    app.decorate('lexicalIndexes', lexical)
    app.decorate(
      'searchPipeline',
      new SearchPipeline({ collections, models: app.models, lexical, rerankers: app.rerankers, rerankDefaults: app.rerankDefaults, limits: { maxTopK: config.maxTopK, maxQueryTerms: config.maxQueryTerms } }),
    )
    app.addHook('onClose', async () => collections.close())
  },
  { name: 'funnel-pipeline', dependencies: ['funnel-store', 'funnel-models', 'funnel-rerankers'] },
)
