import fp from 'fastify-plugin'
import path from 'node:path'
import type { Config } from '../config.js'
import { SqliteStore } from '../store/sqlite-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: SqliteStore
  }
}

/** Opens the SQLite store (the one durable resource) and closes it last. */
export default fp(
  async (app, opts: { config: Config }) => {
    const store = new SqliteStore(path.join(opts.config.dataDir, 'funnel.db'))
    app.decorate('store', store)
    app.addHook('onClose', async () => store.close())
  },
  { name: 'funnel-store' },
)
