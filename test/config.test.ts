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
