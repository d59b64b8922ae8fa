import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/** Process entry: config, listen, graceful close on SIGINT/SIGTERM (a second signal forces exit). */
async function main(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`funnel: ${error.message}\n`)
      process.exit(78)
    }
    throw error
  }
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
  await app.listen({ port: config.port, host: config.host })
}

main().catch((error: unknown) => {
  process.stderr.write(`funnel: failed to start: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
