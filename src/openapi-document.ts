import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'

/** Path of the committed OpenAPI document, relative to the repository root. */
export const OPENAPI_PATH = 'openapi/openapi.json'

/**
 * Generates the OpenAPI document exactly as the running server serves it at /openapi.json, from an
 * app built on a throwaway data directory with default settings (so the document never depends on a
 * deployment's environment).
 */
export async function generateOpenApiDocument(): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-openapi-'))
  const app = await buildApp(loadConfig({}, { dataDir, logLevel: 'silent', buildDefaultModel: false }))
  try {
    await app.ready()
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}
