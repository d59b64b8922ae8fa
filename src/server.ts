import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { hnswlib } from './retrieval/hnswlib-binding.js'
import { glibcVersion, hugePageStatus, thpMode } from './retrieval/huge-pages.js'

/** Process entry: config, listen, graceful close on SIGINT/SIGTERM (a second signal forces exit). */
async function main(): Promise<void> {
  const config = loadConfig()
  const app = await buildApp(config)
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    closing = true
    app.log.info({ signal }, 'closing: finishing in-flight requests, saving indexes')
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while closing')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  app.log.info({ hnswlib: hnswlib.variant, reason: hnswlib.reason }, 'hnswlib distance kernels')
  const hugePages = hugePageStatus({ thp: thpMode(), tunables: process.env.GLIBC_TUNABLES, platform: process.platform, glibc: glibcVersion() })
  app.log[hugePages.enabled || hugePages.thp !== 'madvise' ? 'info' : 'warn'](hugePages, 'index memory on transparent huge pages')
  await app.listen({ port: config.port, host: config.host })
}

/** The ConfigError behind a startup failure, if any (plugins' errors may arrive wrapped in `cause`). */
function configErrorIn(error: unknown): ConfigError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ConfigError) return e
  }
  return undefined
}

main().catch((error: unknown) => {
  const config = configErrorIn(error)
  if (config) {
    // A setting the operator can fix: one line naming the variable and the accepted form, no stack.
    process.stderr.write(`funnel: ${config.message}\n`)
    process.exit(78)
  }
  process.stderr.write(`funnel: failed to start: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
