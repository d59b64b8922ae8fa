import { cp, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { fixtureModelDir } from './fixture-models.js'

export const TEST_MODEL = 'test/tiny-bert-mean'

/** A models directory holding the tiny fixture embedders under test/<name>. */
export async function fixtureModelsDir(names: string[] = ['tiny-bert-mean']): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-models-'))
  for (const name of names) await cp(await fixtureModelDir(name), path.join(dir, 'test', name), { recursive: true })
  return dir
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  dataDir: string
  modelsDir: string
  /** Closes the app (saving indexes), leaving the data directory for inspection or damage. */
  stop(): Promise<void>
  /** Closes the app if running and rebuilds it on the same data directory (a clean restart). */
  restart(): Promise<FastifyInstance>
}

/**
 * Builds a real app on a temp data directory and the fixture embedder, waits until ready, and
 * registers teardown with tap.
 */
export async function buildTestApp(
  t: { teardown(fn: () => unknown): void },
  overrides: Partial<Config> = {},
): Promise<TestApp> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'funnel-data-')))
  const modelsDir = overrides.modelsDir ?? (await fixtureModelsDir())
  const config = loadConfig({}, { logLevel: 'silent', embeddingModel: TEST_MODEL, buildDefaultModel: false, indexSaveIntervalMs: 50, rerankStages: '', ...overrides, dataDir, modelsDir })
  let running = true
  const state: TestApp = {
    app: await ready(await buildApp(config)),
    config,
    dataDir,
    modelsDir,
    async stop() {
      if (running) await state.app.close()
      running = false
    },
    async restart() {
      await state.stop()
      state.app = await ready(await buildApp(config))
      running = true
      return state.app
    },
  }
  t.teardown(async () => {
    await state.stop()
    await rm(dataDir, { recursive: true, force: true })
    if (overrides.modelsDir === undefined) await rm(modelsDir, { recursive: true, force: true })
  })
  return state
}

/** Waits for /readyz (the default model loads in the background). */
export async function ready(app: FastifyInstance): Promise<FastifyInstance> {
  await app.ready()
  for (let i = 0; i < 200; i++) {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    if (res.statusCode === 200) return app
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('app did not become ready: ' + (await app.inject({ method: 'GET', url: '/readyz' })).body)
}
