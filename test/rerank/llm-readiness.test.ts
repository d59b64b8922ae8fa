import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { TEST_MODEL, fixtureModelsDir } from '../helpers/app.js'

const gguf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/models/tiny-gguf/tiny-chatml.gguf')

async function readyzUntil(app: Awaited<ReturnType<typeof buildApp>>, done: (res: { statusCode: number; body: string }) => boolean) {
  let res = await app.inject({ method: 'GET', url: '/readyz' })
  for (let i = 0; i < 2400 && !done(res); i++) {
    await new Promise((r) => setTimeout(r, 50))
    res = await app.inject({ method: 'GET', url: '/readyz' })
  }
  return res
}

t.test('a default-cascade GGUF that fails to load keeps /readyz at 503 naming it; a good one becomes ready', async (t) => {
  const modelsDir = await fixtureModelsDir()
  t.teardown(() => rm(modelsDir, { recursive: true, force: true }))
  await mkdir(path.join(modelsDir, 'test', 'broken-gguf'), { recursive: true })
  await writeFile(path.join(modelsDir, 'test', 'broken-gguf', 'model.gguf'), 'GGUF\u0003\u0000\u0000\u0000 truncated')
  await mkdir(path.join(modelsDir, 'test', 'tiny-gguf'), { recursive: true })
  await copyFile(gguf, path.join(modelsDir, 'test', 'tiny-gguf', 'tiny-chatml.gguf'))
  const base = { modelsDir, logLevel: 'silent' as const, embeddingModel: TEST_MODEL, buildDefaultModel: false }

  const broken = await buildApp(loadConfig({}, { ...base, rerankStages: 'pointwise:test/tiny-gguf:20,test/broken-gguf:10' }))
  t.teardown(() => broken.close())
  await broken.ready()
  const res = await readyzUntil(broken, (r) => /failed to load/.test(r.body))
  t.equal(res.statusCode, 503)
  t.match(JSON.parse(res.body).error.message, /reranker 'test\/broken-gguf' failed to load: .*broken-gguf\/model\.gguf/)

  const good = await buildApp(loadConfig({}, { ...base, rerankStages: 'pointwise:test/tiny-gguf:20,test/tiny-gguf:10' }))
  t.teardown(() => good.close())
  await good.ready()
  const ok = await readyzUntil(good, (r) => r.statusCode === 200 || /failed/.test(r.body))
  t.equal(ok.statusCode, 200, ok.body)
})
