/**
 * Server settings that switch the embedding hot-path changes on one at a time, for the benchmarks
 * and profiles that compare them side by side (bench-hot-path.ts, ../profile/profile-search.ts).
 * Each variant is a set of server settings; the first four are the hot-path changes one at a time.
 */
export const VARIANTS: Record<string, { describe: string; env: Record<string, string> }> = {
  'session-1': {
    describe: 'the settings session 1 shipped (on this code): onnxruntime spinning threads, no micro-batcher, cuts every 32 inputs, no cache',
    env: { FUNNEL_ONNX_SPINNING: 'true', FUNNEL_MICRO_BATCH: 'false', FUNNEL_EMBED_MAX_PADDING_RATIO: '1000', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  'spinning-off': {
    describe: 'idle onnxruntime threads sleep instead of spinning',
    env: { FUNNEL_ONNX_SPINNING: 'false', FUNNEL_MICRO_BATCH: 'false', FUNNEL_EMBED_MAX_PADDING_RATIO: '1000', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  'micro-batch': {
    describe: 'spinning off + micro-batcher, runs cut every 32 inputs',
    env: { FUNNEL_ONNX_SPINNING: 'false', FUNNEL_MICRO_BATCH: 'true', FUNNEL_EMBED_MAX_PADDING_RATIO: '1000', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  'micro-batch+cuts': {
    describe: 'spinning off + micro-batcher + runs cut where padding passes 1.2x (the defaults now, cache off)',
    env: { FUNNEL_ONNX_SPINNING: 'false', FUNNEL_MICRO_BATCH: 'true', FUNNEL_EMBED_MAX_PADDING_RATIO: '1.2', FUNNEL_QUERY_CACHE_SIZE: '0' },
  },
  default: {
    describe: 'the defaults now: as micro-batch+cuts, with the 1024-entry query cache',
    env: {},
  },
  worker: {
    describe: 'the defaults with the embedding model on a worker thread (FUNNEL_ONNX_WORKER=true)',
    env: { FUNNEL_ONNX_WORKER: 'true' },
  },
}

/** The names in a comma-separated `--variants` list, refused when one is unknown. */
export function checkVariants(list: string): string[] {
  const names = list.split(',')
  for (const name of names) if (VARIANTS[name] === undefined) throw new Error(`--variants: unknown '${name}'; known: ${Object.keys(VARIANTS).join(', ')}`)
  return names
}

/** One line per variant, for --help. */
export const describeVariants = (): string => Object.entries(VARIANTS).map(([name, v]) => `  ${name}: ${v.describe}`).join('\n')
