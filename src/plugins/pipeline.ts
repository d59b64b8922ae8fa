import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import type { LifecycleProbe } from '../pipeline/collection-lifecycle.js'
import { CollectionService } from '../pipeline/collections.js'
import { SearchPipeline } from '../pipeline/search.js'

declare module 'fastify' {
  interface FastifyInstance {
    collections: CollectionService
    searchPipeline: SearchPipeline
  }
}

/** Collections over the backend (their indexes opened in the background) and the search pipeline. */
export default fp(
  async (app, opts: { config: Config; lifecycleProbe?: LifecycleProbe }) => {
    const { config } = opts
    const collections = new CollectionService({
      backend: app.backend,
      models: app.models,
      log: (obj, msg) => app.log.info(obj, msg),
      ...(opts.lifecycleProbe !== undefined && { probe: opts.lifecycleProbe }),
    })
    // Indexes open in the background: boot time must not grow with the data or shrink with the
    // machine (Fastify's plugin timeout). /readyz answers 503 naming what is still opening.
    await collections.startOpening()
    app.decorate('collections', collections)
    app.decorate(
      'searchPipeline',
      new SearchPipeline({
        collections,
        models: app.models,
        rerankers: app.rerankers,
        rerankDefaults: app.rerankDefaults,
        calibrators: app.calibrators,
        limits: { maxTopK: config.maxTopK, maxQueryTerms: config.maxQueryTerms },
      }),
    )
    // The backend itself is closed by the store plugin, after this: only wait for opening to finish.
    app.addHook('onClose', async () => collections.whenOpen)
  },
  { name: 'funnel-pipeline', dependencies: ['funnel-store', 'funnel-models', 'funnel-rerankers'] },
)
