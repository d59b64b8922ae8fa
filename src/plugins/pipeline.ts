import fp from 'fastify-plugin'
import type { Config } from '../config.js'
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

/** Collections (store + HNSW indexes) and the search pipeline; saves every index on close. */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    const collections = new CollectionService({
      store: app.store,
      models: app.models,
      dataDir: config.dataDir,
      indexSaveIntervalMs: config.indexSaveIntervalMs,
      log: (obj, msg) => app.log.info(obj, msg),
    })
    const lexical = new LexicalIndexes(app.store, (obj, msg) => app.log.info(obj, msg))
    collections.addWriteHook(lexical)
    await collections.open()
    lexical.open()
    await collections.removeOrphanIndexFiles()
    app.decorate('collections', collections)
    app.decorate('lexicalIndexes', lexical)
    app.decorate(
      'searchPipeline',
      new SearchPipeline({ collections, models: app.models, lexical, rerankers: app.rerankers, rerankDefaults: app.rerankDefaults, limits: { maxTopK: config.maxTopK } }),
    )
    app.addHook('onClose', async () => collections.close())
  },
  { name: 'funnel-pipeline', dependencies: ['funnel-store', 'funnel-models', 'funnel-rerankers'] },
)
