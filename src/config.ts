import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import path from 'node:path'

/**
 * Every setting Funnel reads, in one schema. The type derives from it; `loadConfig` maps environment
 * variables onto it, converts strings to numbers/booleans and rejects a bad value naming the variable.
 */
export const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, env: 'PORT' }),
  host: Type.String({ default: '0.0.0.0', env: 'HOST' }),
  dataDir: Type.String({ default: './data', env: 'FUNNEL_DATA_DIR' }),
  modelsDir: Type.String({ default: './models', env: 'FUNNEL_MODELS_DIR' }),
  embeddingModel: Type.String({ default: 'funnel/glove-6b-100d-static', env: 'FUNNEL_EMBEDDING_MODEL' }),
  logLevel: Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ],
    { default: 'info', env: 'LOG_LEVEL' },
  ),
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024, env: 'FUNNEL_BODY_LIMIT_BYTES' }),
  maxBatchDocuments: Type.Integer({ minimum: 1, default: 1000, env: 'FUNNEL_MAX_BATCH_DOCUMENTS' }),
  maxEmbeddingInputs: Type.Integer({ minimum: 1, default: 256, env: 'FUNNEL_MAX_EMBEDDING_INPUTS' }),
  maxTopK: Type.Integer({ minimum: 1, default: 1000, env: 'FUNNEL_MAX_TOP_K' }),
  embedBatchSize: Type.Integer({ minimum: 1, default: 32, env: 'FUNNEL_EMBED_BATCH_SIZE' }),
  onnxIntraOpThreads: Type.Integer({ minimum: 0, default: 0, env: 'FUNNEL_ONNX_THREADS' }),
  indexSaveIntervalMs: Type.Integer({ minimum: 0, default: 5000, env: 'FUNNEL_INDEX_SAVE_INTERVAL_MS' }),
  buildDefaultModel: Type.Boolean({ default: true, env: 'FUNNEL_BUILD_DEFAULT_MODEL' }),
})

export type Config = Static<typeof ConfigSchema>

type EnvSource = Record<string, string | undefined>

/** Converts one environment string to the JSON type its schema property expects. */
function coerce(raw: string, schema: { type?: unknown }): unknown {
  if (schema.type === 'integer' || schema.type === 'number') return raw.trim() === '' ? raw : Number(raw)
  if (schema.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off)$/i.test(raw)) return false
  }
  return raw
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Builds the config from defaults, then the environment, then explicit overrides (tests use these). */
export function loadConfig(env: EnvSource = process.env, overrides: Partial<Config> = {}): Config {
  const input: Record<string, unknown> = {}
  const rawValues: Record<string, string> = {}
  for (const [key, prop] of Object.entries(ConfigSchema.properties)) {
    const variable = (prop as { env?: string }).env
    const raw = variable === undefined ? undefined : env[variable]
    if (raw !== undefined) {
      input[key] = coerce(raw, prop as { type?: unknown })
      rawValues[key] = raw
    }
  }
  const merged = Value.Default(ConfigSchema, { ...input, ...overrides }) as Record<string, unknown>
  const problems = [...Value.Errors(ConfigSchema, merged)]
  if (problems.length > 0) {
    const first = problems[0]!
    const key = first.instancePath.replace(/^\//, '').split('/')[0] ?? ''
    const prop = (ConfigSchema.properties as Record<string, { env?: string }>)[key]
    const name = prop?.env ?? key
    const shown = rawValues[key] ?? JSON.stringify(merged[key])
    throw new ConfigError(`invalid setting ${name}=${shown}: ${first.message}`)
  }
  const config = merged as Config
  return { ...config, dataDir: path.resolve(config.dataDir), modelsDir: path.resolve(config.modelsDir) }
}
