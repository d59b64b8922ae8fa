import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

t.test('defaults, environment and overrides', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 8080)
  t.equal(config.embeddingModel, 'funnel/glove-6b-100d-static')
  t.ok(config.dataDir.endsWith('/data'), 'relative dirs resolve to absolute paths')
  const env = loadConfig({ PORT: '9000', FUNNEL_BUILD_DEFAULT_MODEL: 'false', LOG_LEVEL: 'debug', FUNNEL_DATA_DIR: '/tmp/x' })
  t.match(env, { port: 9000, buildDefaultModel: false, logLevel: 'debug', dataDir: '/tmp/x' })
  t.equal(loadConfig({ PORT: '9000' }, { port: 1234 }).port, 1234, 'explicit overrides win')
})

t.test('a bad value stops the boot naming the variable and the value', async (t) => {
  t.throws(() => loadConfig({ PORT: 'abc' }), new ConfigError('invalid setting PORT=abc: must be integer'))
  t.throws(() => loadConfig({ PORT: '70000' }), /invalid setting PORT=70000: must be <= 65535/)
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /invalid setting LOG_LEVEL=loud/)
  t.throws(() => loadConfig({ FUNNEL_BUILD_DEFAULT_MODEL: 'maybe' }), /invalid setting FUNNEL_BUILD_DEFAULT_MODEL=maybe: must be boolean/)
  t.throws(() => loadConfig({ FUNNEL_MAX_BATCH_DOCUMENTS: '0' }), /FUNNEL_MAX_BATCH_DOCUMENTS=0: must be >= 1/)
})

t.test('an optional JSON config file, overridden by the environment, validated the same way', async (t) => {
  const { mkdtemp, writeFile } = await import('node:fs/promises')
  const os = await import('node:os')
  const path = await import('node:path')
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-config-'))
  const file = path.join(dir, 'funnel.json')
  await writeFile(file, JSON.stringify({ PORT: 9100, FUNNEL_MAX_TOP_K: 50, LOG_LEVEL: 'warn' }))
  t.match(loadConfig({ FUNNEL_CONFIG_FILE: file }), { port: 9100, maxTopK: 50, logLevel: 'warn' })
  t.equal(loadConfig({ FUNNEL_CONFIG_FILE: file, PORT: '9200' }).port, 9200, 'the environment wins over the file')
  await writeFile(file, JSON.stringify({ PORT: 'x' }))
  t.throws(() => loadConfig({ FUNNEL_CONFIG_FILE: file }), new RegExp(`invalid setting PORT \\(in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)="x": must be integer`))
  await writeFile(file, JSON.stringify({ PROT: 1 }))
  t.throws(() => loadConfig({ FUNNEL_CONFIG_FILE: file }), /unknown setting PROT; known: PORT, HOST/)
  await writeFile(file, '{not json')
  t.throws(() => loadConfig({ FUNNEL_CONFIG_FILE: file }), /FUNNEL_CONFIG_FILE=.*funnel\.json: /)
})
