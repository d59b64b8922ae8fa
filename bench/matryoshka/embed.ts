/**
 * Embeds a BEIR dataset's corpus (as documents) and its judged queries (as queries) once, with Funnel's
 * own EmbeddingModel and the manifest's settings for the model (prompts/prefixes, pooling, max length),
 * and stores the full-dimension vectors so every truncation and funnel setting can be scored without
 * embedding again (truncation-eval.ts). Resumable: vectors are appended in chunks, and a rerun goes on
 * from the last complete chunk.
 *
 *   npx tsx bench/matryoshka/embed.ts --dataset ../shared/datasets/scifact --model google/embeddinggemma-300m
 *   npx tsx bench/matryoshka/embed.ts --dataset ... --model ... --max-docs 50      # timing probe only
 *   npx tsx bench/matryoshka/embed.ts --dataset ... --model ... --subset 1000      # judged docs + seeded others (dataset.ts)
 *
 * Files: <out-dir>/<dataset>__<model>__L<max-length>.{docs,queries}.f32 (float32 rows) and .json
 * (ids, dims, settings, timings).
 */
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { findModel, modelDirectory, readManifest } from '../../src/models/manifest.js'
import { corpusSubset, readDocs, readJudgedQueries, readQrels, type Doc } from './dataset.js'
import { vectorBase, type VectorMeta } from './vectors.js'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string' },
      model: { type: 'string' },
      split: { type: 'string', default: 'test' },
      'max-length': { type: 'string' },
      'max-docs': { type: 'string' },
      subset: { type: 'string' },
      threads: { type: 'string', default: '0' },
      chunk: { type: 'string', default: '64' },
      'models-dir': { type: 'string', default: process.env.FUNNEL_MODELS_DIR ?? 'models' },
      'out-dir': { type: 'string', default: 'bench-results/matryoshka/vectors' },
    },
  })
  if (values.dataset === undefined || values.model === undefined) {
    process.stderr.write('usage: embed.ts --dataset DIR --model ID [--split test] [--max-length N] [--max-docs N] [--threads N] [--out-dir DIR]\n')
    process.exit(2)
  }
  const datasetDir = path.resolve(values.dataset)
  const dataset = path.basename(datasetDir)
  const entry = findModel(readManifest(), values.model)
  const maxLength = values['max-length'] !== undefined ? Number(values['max-length']) : (entry?.max_length ?? 512)
  const threads = Number(values.threads)
  const model = await EmbeddingModel.load(modelDirectory(values['models-dir'], values.model), {
    id: values.model,
    maxLength,
    ...(entry?.pooling !== undefined && entry.pooling !== 'in-graph' && { pooling: entry.pooling }),
    ...(entry?.normalize !== undefined && { normalize: entry.normalize }),
    ...(entry?.prefixes !== undefined && { prefixes: entry.prefixes }),
    batchSize: 16,
    session: { intraOpThreads: threads },
  })
  const probe = values['max-docs'] !== undefined
  let docs: Doc[] = await readDocs(datasetDir)
  if (probe) docs = docs.slice(0, Number(values['max-docs']))
  const subset = values.subset !== undefined ? Number(values.subset) : undefined
  if (subset !== undefined) docs = corpusSubset(docs, await readQrels(datasetDir, values.split), subset)
  const queries = await readJudgedQueries(datasetDir, values.split)
  await mkdir(values['out-dir'], { recursive: true })
  const base = vectorBase(values['out-dir'], dataset, values.model, maxLength) + (probe ? `.probe${docs.length}` : subset !== undefined ? `.sub${subset}` : '')
  const metaFile = `${base}.json`
  const rowBytes = model.dims * 4
  const meta: VectorMeta = existsSync(metaFile)
    ? (JSON.parse(readFileSync(metaFile, 'utf8')) as VectorMeta)
    : {
        dataset,
        model: values.model,
        dims: model.dims,
        max_length: maxLength,
        prefixes: entry?.prefixes ?? null,
        docs: { ids: docs.map((d) => d.id), done: 0, seconds: 0, tokens: 0, truncated: 0 },
        queries: { ids: queries.map((q) => q.id), done: 0, seconds: 0 },
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load1_at_start: os.loadavg()[0]!, threads },
        date: new Date().toISOString(),
      }
  const save = () => writeFileSync(metaFile, JSON.stringify(meta) + '\n')
  // Resuming with another document list: keep the queries and the documents already embedded when they
  // are a prefix of the new list (a larger nested subset, seeded from a smaller one's files), else redo them.
  const wantIds = docs.map((d) => d.id)
  if (meta.docs.ids.length !== wantIds.length || meta.docs.ids.some((id, i) => id !== wantIds[i])) {
    const prefix = meta.docs.ids.slice(0, meta.docs.done).every((id, i) => id === wantIds[i])
    meta.docs = prefix ? { ...meta.docs, ids: wantIds } : { ids: wantIds, done: 0, seconds: 0, tokens: 0, truncated: 0 }
    if (!prefix) writeFileSync(`${base}.docs.f32`, '')
  }

  const run = async (kind: 'document' | 'query', items: Doc[], file: string, part: { done: number; seconds: number; tokens?: number; truncated?: number }) => {
    // Keep only whole rows that the metadata counts (a killed run may have left a partial chunk).
    if (existsSync(file)) {
      const rows = Math.floor(statSync(file).size / rowBytes)
      if (rows < part.done) part.done = rows
      if (rows > part.done) writeFileSync(file, readFileSync(file).subarray(0, part.done * rowBytes))
    } else {
      part.done = 0
      writeFileSync(file, '')
    }
    const chunk = Number(values.chunk)
    while (part.done < items.length) {
      const slice = items.slice(part.done, part.done + chunk)
      const started = performance.now()
      const out = await model.embed(slice.map((d) => d.text), kind)
      part.seconds += (performance.now() - started) / 1000
      const buf = Buffer.alloc(slice.length * rowBytes)
      out.vectors.forEach((v, i) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(buf, i * rowBytes))
      appendFileSync(file, buf)
      part.done += slice.length
      if (part.tokens !== undefined) part.tokens += out.tokenCounts.reduce((a, b) => a + b, 0)
      if (part.truncated !== undefined) part.truncated += out.truncated.filter(Boolean).length
      save()
      const rate = part.done / part.seconds
      process.stderr.write(`\r${kind} ${part.done}/${items.length}  ${rate.toFixed(2)}/s  eta ${Math.round((items.length - part.done) / rate / 60)} min   `)
    }
    process.stderr.write('\n')
  }
  await run('query', queries, `${base}.queries.f32`, meta.queries)
  await run('document', docs, `${base}.docs.f32`, meta.docs)
  await model.dispose()
  const d = meta.docs
  process.stdout.write(
    JSON.stringify({
      base,
      dims: meta.dims,
      max_length: maxLength,
      docs: d.done,
      docs_per_s: +(d.done / d.seconds).toFixed(2),
      tokens_per_s: Math.round(d.tokens / d.seconds),
      mean_tokens: Math.round(d.tokens / d.done),
      truncated: d.truncated,
      queries: meta.queries.done,
      queries_per_s: +(meta.queries.done / meta.queries.seconds).toFixed(2),
      load1: os.loadavg()[0],
    }) + '\n',
  )
}

main().catch((error: unknown) => {
  process.stderr.write(`embed failed: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
