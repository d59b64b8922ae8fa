import path from 'node:path'

/** Where embed.ts stores a dataset's vectors for a model and max length (truncation-eval.ts reads them). */
export const vectorBase = (outDir: string, dataset: string, model: string, maxLength: number): string =>
  path.join(outDir, `${dataset}__${model.replace(/[^A-Za-z0-9.-]/g, '_')}__L${maxLength}`)

export interface VectorMeta {
  dataset: string
  model: string
  dims: number
  max_length: number
  prefixes: { query: string; document: string } | null
  docs: { ids: string[]; done: number; seconds: number; tokens: number; truncated: number }
  queries: { ids: string[]; done: number; seconds: number }
  machine: { cpus: number; cpu: string | undefined; load1_at_start: number; threads: number }
  date: string
}
