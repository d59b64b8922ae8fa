import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { readFileSync } from 'node:fs'
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
  backend: Type.Union([Type.Literal('embedded'), Type.Literal('weaviate')], {
    default: 'embedded',
    env: 'FUNNEL_BACKEND',
    description: 'embedded: SQLite + HNSW + FTS5 under FUNNEL_DATA_DIR; weaviate: everything in a Weaviate cluster (FUNNEL_WEAVIATE_URLS), no state on local disk',
  }),
  weaviateUrls: Type.String({
    default: '',
    env: 'FUNNEL_WEAVIATE_URLS',
    description: 'comma-separated REST URLs of the Weaviate nodes, each with its gRPC port as ?grpc=PORT (default 50051); npm run cluster -- start prints it',
  }),
  weaviateApiKey: Type.String({ default: '', env: 'FUNNEL_WEAVIATE_API_KEY' }),
  weaviateConsistency: Type.Union([Type.Literal('ONE'), Type.Literal('QUORUM'), Type.Literal('ALL')], {
    default: 'QUORUM',
    env: 'FUNNEL_WEAVIATE_CONSISTENCY',
    description: 'replicas that must acknowledge a write (and answer a read) before Funnel does',
  }),
  weaviateTimeoutMs: Type.Integer({
    minimum: 1,
    default: 30000,
    env: 'FUNNEL_WEAVIATE_TIMEOUT_MS',
    description: 'deadline of one call to the cluster: each attempt on a node gets half of it, and an attempt that fails because its node is down or the cluster is electing a leader is retried on the next node until the deadline',
  }),
  weaviateReplicationFactor: Type.Integer({
    minimum: 1,
    default: 3,
    env: 'FUNNEL_WEAVIATE_REPLICATION_FACTOR',
    description: 'copies of each collection Funnel creates (at most the number of nodes); 1 for a single-node development server',
  }),
  weaviateShards: Type.Integer({
    minimum: 1,
    default: 1,
    env: 'FUNNEL_WEAVIATE_SHARDS',
    description: 'shards per collection Funnel creates; Weaviate keeps BM25 statistics per shard, so 1 ranks as the embedded backend does, and more spread a corpus too large for one node',
  }),
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
  logFormat: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
    default: 'auto',
    env: 'LOG_FORMAT',
    description: 'json lines, pretty lines, or auto: pretty when stdout is a terminal',
  }),
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024, env: 'FUNNEL_BODY_LIMIT_BYTES' }),
  jsonWorkerMinBytes: Type.Integer({
    minimum: 0,
    default: 256 * 1024,
    env: 'FUNNEL_JSON_WORKER_MIN_BYTES',
    description: 'JSON request bodies of at least this many bytes are parsed on a worker thread, off the event loop (a 10 MB body held it ~130 ms); 0 parses every body on the event loop',
  }),
  maxBatchDocuments: Type.Integer({ minimum: 1, default: 1000, env: 'FUNNEL_MAX_BATCH_DOCUMENTS' }),
  maxEmbeddingInputs: Type.Integer({ minimum: 1, default: 256, env: 'FUNNEL_MAX_EMBEDDING_INPUTS' }),
  maxTopK: Type.Integer({ minimum: 1, default: 1000, env: 'FUNNEL_MAX_TOP_K' }),
  maxQueryChars: Type.Integer({
    minimum: 1,
    default: 4096,
    env: 'FUNNEL_MAX_QUERY_CHARS',
    description: 'longest search query in characters; longer ones are refused with 400 (an embedding model reads at most a few hundred tokens of it anyway)',
  }),
  maxQueryTerms: Type.Integer({
    minimum: 1,
    // RM3 adds at most 100 expansion terms, and a weighted BM25 search takes at most 500 distinct terms.
    maximum: 400,
    default: 256,
    env: 'FUNNEL_MAX_QUERY_TERMS',
    description: "most distinct analysed terms in a BM25 query (Lucene's max_clause_count is 1024); more are refused with 400",
  }),
  maxDocumentChars: Type.Integer({
    minimum: 1,
    // 64 Ki (~16,000 tokens, past OpenAI's 8,191-token embedding input): a document is one FTS5 row,
    // inserted and flushed in one synchronous stretch, so the longest document sets the longest stall
    // of a write (~160 ms of CPU at 256 Ki, ~40 ms at 64 Ki on this project's host; issue 13).
    default: 65_536,
    env: 'FUNNEL_MAX_DOCUMENT_CHARS',
    description: 'longest document text in characters (UTF-16 code units); longer ones are refused with 400. Raising it lengthens the event-loop stall a single document can cause',
  }),
  embedBatchSize: Type.Integer({ minimum: 1, default: 32, env: 'FUNNEL_EMBED_BATCH_SIZE' }),
  onnxIntraOpThreads: Type.Integer({ minimum: 0, default: 0, env: 'FUNNEL_ONNX_THREADS' }),
  onnxAllowSpinning: Type.Boolean({ default: false, env: 'FUNNEL_ONNX_SPINNING', description: 'let idle onnxruntime worker threads spin (faster on a dedicated machine, much slower on a shared one)' }),
  onnxWorker: Type.Boolean({ default: true, env: 'FUNNEL_ONNX_WORKER', description: 'run onnxruntime sessions (embedders and ONNX rerankers) on worker threads, so a run does not block the event loop; false runs them on the main thread' }),
  embedMaxPaddingRatio: Type.Number({ minimum: 1, default: 1.2, env: 'FUNNEL_EMBED_MAX_PADDING_RATIO', description: 'cut an embedding run early when its padded tokens would pass this multiple of its real tokens' }),
  microBatch: Type.Boolean({ default: true, env: 'FUNNEL_MICRO_BATCH', description: 'merge concurrent small embed calls (one query per search) into one ONNX run' }),
  microBatchMaxTexts: Type.Integer({ minimum: 1, default: 32, env: 'FUNNEL_MICRO_BATCH_MAX_TEXTS' }),
  queryCacheSize: Type.Integer({ minimum: 0, default: 1024, env: 'FUNNEL_QUERY_CACHE_SIZE', description: 'query embeddings kept in an LRU cache per process; 0 disables it' }),
  indexSaveIntervalMs: Type.Integer({ minimum: 0, default: 5000, env: 'FUNNEL_INDEX_SAVE_INTERVAL_MS' }),
  buildDefaultModel: Type.Boolean({ default: true, env: 'FUNNEL_BUILD_DEFAULT_MODEL' }),
  rerankStages: Type.String({
    // The best CPU cascade measured (docs/benchmarks/reranking-dl19.md), chosen on qa-pairs dev among the embedding
    // stages: e5-small-v2 on the top 100, then EmbeddingGemma on the same 100 fused with it by RRF. The cross-encoder
    // trained here lowered DL19 nDCG@10, so it is not in the default.
    default: 'intfloat/e5-small-v2:100,google/embeddinggemma-300m:100:rrf',
    env: 'FUNNEL_RERANK_STAGES',
    description: 'default cascade for requests with `rerank: {}` and /v1/rerank without a model (model:top_n or model:top_n:rrf, in order; "" for none); npm run models:fetch-dev -- cascade brings its models',
  }),
  rerankBudgetMs: Type.Integer({ minimum: 1, default: 2000, env: 'FUNNEL_RERANK_BUDGET_MS' }),
  rerankMaxCandidates: Type.Integer({ minimum: 1, default: 200, env: 'FUNNEL_RERANK_MAX_CANDIDATES' }),
  rerankMaxDocuments: Type.Integer({ minimum: 1, default: 1000, env: 'FUNNEL_RERANK_MAX_DOCUMENTS' }),
  listwiseWindow: Type.Integer({ minimum: 2, maximum: 20, default: 20, env: 'FUNNEL_LISTWISE_WINDOW' }),
  listwiseStride: Type.Integer({ minimum: 1, maximum: 20, default: 10, env: 'FUNNEL_LISTWISE_STRIDE' }),
  listwiseFence: Type.Boolean({
    default: true,
    env: 'FUNNEL_LISTWISE_FENCE',
    description: 'fence listwise passages in <passage> tags with the rules after them (against injected instructions); false sends the exact FIRST prompt, which FIRST-tuned models were trained on and which is shorter',
  }),
  listwiseRemoteUrl: Type.String({ default: '', env: 'FUNNEL_LISTWISE_REMOTE_URL', description: 'OpenAI-compatible server for the remote listwise reranker (model id "remote")' }),
  listwiseRemoteModel: Type.String({ default: '', env: 'FUNNEL_LISTWISE_REMOTE_MODEL' }),
  listwiseRemoteApi: Type.Union([Type.Literal('completions'), Type.Literal('chat')], { default: 'completions', env: 'FUNNEL_LISTWISE_REMOTE_API' }),
  listwiseRemoteTokenizer: Type.String({ default: '', env: 'FUNNEL_LISTWISE_REMOTE_TOKENIZER', description: 'model id under FUNNEL_MODELS_DIR whose tokenizer and chat template build the remote prompt' }),
  listwiseRemoteTimeoutMs: Type.Integer({ minimum: 1, default: 10000, env: 'FUNNEL_LISTWISE_REMOTE_TIMEOUT_MS' }),
  auth: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], { default: 'auto', env: 'FUNNEL_AUTH' }),
  apiKeys: Type.String({ default: '', env: 'FUNNEL_API_KEYS' }),
  metricsPublic: Type.Boolean({ default: false, env: 'FUNNEL_METRICS_PUBLIC' }),
  rateLimitRps: Type.Number({ minimum: 0, default: 0, env: 'FUNNEL_RATE_LIMIT_RPS' }),
  rateLimitBurst: Type.Integer({ minimum: 1, default: 20, env: 'FUNNEL_RATE_LIMIT_BURST' }),
  corsOrigins: Type.String({ default: '', env: 'FUNNEL_CORS_ORIGINS' }),
  requestTimeoutMs: Type.Integer({ minimum: 0, default: 60000, env: 'FUNNEL_REQUEST_TIMEOUT_MS' }),
  shedMaxEventLoopDelayMs: Type.Integer({ minimum: 0, default: 0, env: 'FUNNEL_SHED_MAX_EVENT_LOOP_DELAY_MS' }),
  shedMaxEventLoopUtilization: Type.Number({ minimum: 0, maximum: 1, default: 0, env: 'FUNNEL_SHED_MAX_EVENT_LOOP_UTILIZATION' }),
  shedMaxHeapUsedRatio: Type.Number({ minimum: 0, maximum: 1, default: 0.9, env: 'FUNNEL_SHED_MAX_HEAP_USED_RATIO' }),
  shedMaxRssBytes: Type.Integer({ minimum: 0, default: 0, env: 'FUNNEL_SHED_MAX_RSS_BYTES' }),
  shedSampleIntervalMs: Type.Integer({ minimum: 100, default: 1000, env: 'FUNNEL_SHED_SAMPLE_INTERVAL_MS' }),
  shedRetryAfterSeconds: Type.Integer({ minimum: 1, default: 10, env: 'FUNNEL_SHED_RETRY_AFTER_SECONDS' }),
  shedNotReadyAfter: Type.Integer({
    minimum: 0,
    default: 10,
    env: 'FUNNEL_SHED_NOT_READY_AFTER',
    description: '/readyz answers 503 once this many requests were shed within FUNNEL_SHED_READY_WINDOW_MS (0 = never)',
  }),
  shedReadyWindowMs: Type.Integer({
    minimum: 1,
    default: 10000,
    env: 'FUNNEL_SHED_READY_WINDOW_MS',
    description: 'the window sheds are counted over, and the time without any shed before /readyz answers 200 again',
  }),
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
/**
 * Reads FUNNEL_CONFIG_FILE: a JSON object whose keys are the environment variable names (PORT,
 * FUNNEL_DATA_DIR, ...) with JSON values. Unknown keys are refused so a typo cannot pass silently.
 */
function readConfigFile(file: string): { values: Record<string, unknown>; names: Record<string, string> } {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new ConfigError(`FUNNEL_CONFIG_FILE=${file}: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`FUNNEL_CONFIG_FILE=${file}: expected a JSON object`)
  const byVariable = new Map(Object.entries(ConfigSchema.properties).map(([key, prop]) => [(prop as { env?: string }).env ?? key, key]))
  const values: Record<string, unknown> = {}
  const names: Record<string, string> = {}
  for (const [name, value] of Object.entries(parsed)) {
    const key = byVariable.get(name)
    if (key === undefined) throw new ConfigError(`FUNNEL_CONFIG_FILE=${file}: unknown setting ${name}; known: ${[...byVariable.keys()].join(', ')}`)
    values[key] = value
    names[key] = `${name} (in ${file})`
  }
  return { values, names }
}

/**
 * Builds the config from defaults, then the optional FUNNEL_CONFIG_FILE, then the environment, then
 * explicit overrides (tests use these). A bad value stops the boot naming the variable.
 */
export function loadConfig(env: EnvSource = process.env, overrides: Partial<Config> = {}): Config {
  const file = env.FUNNEL_CONFIG_FILE === undefined || env.FUNNEL_CONFIG_FILE === '' ? undefined : readConfigFile(env.FUNNEL_CONFIG_FILE)
  const input: Record<string, unknown> = { ...file?.values }
  const rawValues: Record<string, string> = {}
  const sources: Record<string, string> = { ...file?.names }
  for (const [key, prop] of Object.entries(ConfigSchema.properties)) {
    const variable = (prop as { env?: string }).env
    const raw = variable === undefined ? undefined : env[variable]
    if (raw !== undefined) {
      input[key] = coerce(raw, prop as { type?: unknown })
      rawValues[key] = raw
      delete sources[key]
    }
  }
  const merged = Value.Default(ConfigSchema, { ...input, ...overrides }) as Record<string, unknown>
  const problems = [...Value.Errors(ConfigSchema, merged)]
  if (problems.length > 0) {
    const first = problems[0]!
    const key = first.instancePath.replace(/^\//, '').split('/')[0] ?? ''
    const prop = (ConfigSchema.properties as Record<string, { env?: string }>)[key]
    const name = sources[key] ?? prop?.env ?? key
    const shown = rawValues[key] ?? JSON.stringify(merged[key])
    throw new ConfigError(`invalid setting ${name}=${shown}: ${first.message}`)
  }
  const config = merged as Config
  return { ...config, dataDir: path.resolve(config.dataDir), modelsDir: path.resolve(config.modelsDir) }
}
