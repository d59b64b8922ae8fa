import os from 'node:os'
import path from 'node:path'
import { createProgress } from '../../scripts/lib/progress.js'
import { elapsedMs } from '../../src/candidate.js'
import { bytesPerVector, COMPACT_ENCODINGS, type CompactEncoding } from '../../src/retrieval/compact-vectors.js'
import { rescoreAtFullDims, type ScoredLabel } from '../../src/retrieval/rescore.js'
import { RescoreVectors } from '../../src/retrieval/rescore-vectors.js'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { numberList, parseCommand, positiveInt } from '../lib/args.js'
import { queryTexts } from '../lib/datasets.js'
import { indexBeirCorpus, openHarness } from '../lib/harness.js'
import { resultPath, sharedDataset, writeResult } from '../lib/paths.js'
import { machineInfo, markdownTable } from '../lib/report.js'
import { summarizeLatencies } from '../lib/stats.js'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'

const USAGE = `usage: npm run bench:retrieval -- [--dataset ../shared/datasets/scifact] [--model ID] [--oversample 1,4,10,20,50]
       [--rescore sqlite,float32,float16,int8]

Ingest throughput, then for HNSW index dims {full, 1/2, 1/4, 1/8} with full-dim rescoring: QPS,
p50/p95 latency and recall@10 against exact full-dim brute force, which runs in the same process.
Each query's HNSW shortlist is rescored by every --rescore variant side by side: full vectors read
from SQLite per candidate, or kept in memory (RescoreVectors) as float32, float16 or int8. At full
index dims the product uses HNSW's own scores (no rescoring), measured as its own row.
`

interface Row {
  method: string
  index_dims: number
  oversample: number | null
  qps: number
  p50_ms: number
  p95_ms: number
  hnsw_p50_ms: number | null
  rescore_p50_ms: number | null
  recall_at_10: number
  build_s: number | null
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    dataset: { type: 'string', default: sharedDataset('scifact') },
    model: { type: 'string' },
    oversample: { type: 'string', default: '1,4,10,20,50' },
    'top-k': { type: 'string', default: '10' },
    'data-dir': { type: 'string' },
    collection: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    rescore: { type: 'string', default: 'sqlite,float32,float16,int8' },
    out: { type: 'string' },
  })
  const datasetDir = path.resolve(values.dataset)
  const topK = positiveInt('top-k', values['top-k'])
  const oversamples = numberList('oversample', values.oversample)
  const rescorers = values.rescore.split(',').map((name) => {
    if (name !== 'sqlite' && !(COMPACT_ENCODINGS as readonly string[]).includes(name)) throw new Error(`--rescore: '${name}' is not one of sqlite, ${COMPACT_ENCODINGS.join(', ')}`)
    return name as 'sqlite' | CompactEncoding
  })
  const app = await openHarness({ dataDir: values['data-dir'] ?? path.join(os.tmpdir(), 'funnel-bench'), ...(values.model !== undefined && { embeddingModel: values.model }) })
  try {
    const model = await app.models.embedder(values.model)
    const collection = values.collection ?? `bench-${path.basename(datasetDir)}-${model.id.replace(/[^A-Za-z0-9]/g, '-')}`.slice(0, 64)
    const ingest = await indexBeirCorpus(app, datasetDir, { collection, model: model.id, reuse: values.reuse })
    // The raw HNSW sweep below reads the embedded backend's stored vectors directly.
    if (!(app.backend instanceof EmbeddedBackend)) throw new Error('bench:retrieval measures the embedded backend; unset FUNNEL_BACKEND')
    const store = app.backend.store
    const docs = [...store.iterateDocuments(collection)]
    const queries = await queryTexts(datasetDir)
    const queryVectors = (await model.embed(queries, 'query')).vectors
    const dims = model.dims

    // Exact full-dim brute force over one contiguous in-memory matrix: the ground truth and the speed peer.
    const matrix = new Float32Array(docs.length * dims)
    docs.forEach((d, i) => matrix.set(d.vector, i * dims))
    const truth: Set<number>[] = []
    const bruteLatencies: number[] = []
    for (const q of queryVectors) {
      const started = performance.now()
      const top = exactScan(matrix, dims, q, topK)
      bruteLatencies.push(elapsedMs(started))
      truth.push(new Set(top.map((i) => docs[i]!.label)))
    }
    const rows: Row[] = [row('brute force (exact, in memory)', dims, null, bruteLatencies, 1, null, [], [])]

    // The rescoring vectors each in-memory variant serves from, built once (as a collection would on open).
    const inMemory = new Map<CompactEncoding, RescoreVectors>()
    for (const name of rescorers) {
      if (name === 'sqlite') continue
      const vectors = new RescoreVectors(name, dims, docs.length)
      for (const doc of docs) vectors.set(doc.label, doc.vector)
      inMemory.set(name, vectors)
    }
    const rescore = (name: 'sqlite' | CompactEncoding, q: Float32Array, shortlist: number[]): ScoredLabel[] =>
      name === 'sqlite' ? rescoreAtFullDims(q, store.vectorsByLabels(shortlist), dims, topK) : inMemory.get(name)!.rescore(q, shortlist, dims, topK)

    const levels = [...new Set([dims, Math.floor(dims / 2), Math.floor(dims / 4), Math.floor(dims / 8)])].filter((d) => d >= 1)
    for (const indexDims of levels) {
      const buildStart = performance.now()
      const index = DenseIndex.create({ dims: indexDims, m: 16, efConstruction: 200, efSearch: 64 }, docs.length)
      for (const doc of docs) index.upsert(doc.label, doc.vector)
      const buildS = (performance.now() - buildStart) / 1000
      for (const oversample of oversamples) {
        const progress = createProgress({ label: `hnsw d=${indexDims} x${oversample}`, total: queryVectors.length })
        const hnswMs: number[] = []
        const variants = rescorers.map((name) => ({ name, rescoreMs: [] as number[], hits: 0 }))
        const hnswOnly = { hits: 0 }
        queryVectors.forEach((q, i) => {
          const started = performance.now()
          const neighbours = index.search(q, topK * oversample)
          hnswMs.push(elapsedMs(started))
          const shortlist = neighbours.map((n) => n.label)
          // Every variant rescores the same shortlist, one after another, so only the rescoring differs.
          for (const variant of variants) {
            const rescoreStart = performance.now()
            const top = rescore(variant.name, q, shortlist)
            variant.rescoreMs.push(elapsedMs(rescoreStart))
            variant.hits += top.filter((c) => truth[i]!.has(c.label)).length
          }
          if (indexDims === dims) hnswOnly.hits += [...neighbours].sort((a, b) => b.similarity - a.similarity).slice(0, topK).filter((n) => truth[i]!.has(n.label)).length
          progress.tick()
        })
        progress.done()
        const recall = (hits: number) => hits / (truth.length * topK)
        if (indexDims === dims) rows.push(row('hnsw only (full dims, no rescore)', indexDims, oversample, hnswMs, recall(hnswOnly.hits), buildS, hnswMs, []))
        for (const variant of variants) {
          const latencies = hnswMs.map((ms, i) => ms + variant.rescoreMs[i]!)
          rows.push(row(`hnsw + rescore ${variant.name === 'sqlite' ? 'from SQLite' : `in memory (${variant.name})`}`, indexDims, oversample, latencies, recall(variant.hits), buildS, hnswMs, variant.rescoreMs))
        }
      }
    }
    const memory = COMPACT_ENCODINGS.map((encoding) => ({
      encoding,
      bytes_per_vector: bytesPerVector(encoding, dims),
      mb_per_million: { 384: bytesPerVector(encoding, 384), 768: bytesPerVector(encoding, 768) },
      held_bytes: inMemory.get(encoding)?.bytes ?? null,
    }))
    const result = {
      dataset: path.basename(datasetDir),
      model: model.id,
      dims,
      documents: docs.length,
      queries: queryVectors.length,
      ingest: { docs_per_second: Math.round(ingest.docsPerSecond), seconds: Math.round(ingest.seconds * 10) / 10 },
      rows,
      rescore_memory: memory,
      machine: { ...machineInfo(), loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      date: new Date().toISOString(),
    }
    const out = await writeResult(resultPath('bench-retrieval', values.out), result)
    process.stdout.write(
      `${result.dataset}: ${docs.length} docs, ${queryVectors.length} queries, model ${model.id} (${dims} dims)\n` +
        (ingest.reused ? 'ingest: reused an indexed collection (not measured)\n\n' : `ingest: ${result.ingest.docs_per_second} docs/s (embed + SQLite commit + HNSW insert)\n\n`) +
        markdownTable(
          ['method', 'index dims', 'oversample', 'QPS', 'p50 ms', 'p95 ms', 'HNSW p50 ms', 'rescore p50 ms', 'recall@10 vs exact', 'build s'],
          rows.map((r) => [r.method, r.index_dims, r.oversample ?? '-', r.qps, r.p50_ms, r.p95_ms, r.hnsw_p50_ms ?? '-', r.rescore_p50_ms ?? '-', r.recall_at_10.toFixed(3), r.build_s?.toFixed(2) ?? '-']),
        ) +
        '\n\nrescoring vectors in memory (bytes per vector; the same number is MB per million vectors):\n' +
        markdownTable(
          ['encoding', `bytes/vector here (${dims} dims)`, 'at 384 dims', 'at 768 dims', 'held for this corpus MB'],
          memory.map((m) => [m.encoding, m.bytes_per_vector, m.mb_per_million[384]!, m.mb_per_million[768]!, m.held_bytes === null ? '-' : (m.held_bytes / 1e6).toFixed(2)]),
        ) +
        `\n\nload average (1/5/15 min) at the end: ${result.machine.loadavg.join(' / ')}\nresult: ${out}\n`,
    )
  } finally {
    await app.close()
  }
}

/** Indices of the k largest dot products (vectors are unit length, so cosines). */
function exactScan(matrix: Float32Array, dims: number, query: Float32Array, k: number): number[] {
  const n = matrix.length / dims
  const scores = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    let sum = 0
    const base = i * dims
    for (let d = 0; d < dims; d++) sum += matrix[base + d]! * query[d]!
    scores[i] = sum
  }
  return Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!).slice(0, k)
}

function row(method: string, indexDims: number, oversample: number | null, latencies: number[], recall: number, buildS: number | null, hnswMs: number[], rescoreMs: number[]): Row {
  const summary = summarizeLatencies(latencies)
  const total = latencies.reduce((a, b) => a + b, 0)
  const p50 = (xs: number[]) => (xs.length === 0 ? null : summarizeLatencies(xs).p50)
  return { method, index_dims: indexDims, oversample, qps: Math.round((latencies.length / total) * 1000), p50_ms: summary.p50, p95_ms: summary.p95, hnsw_p50_ms: p50(hnswMs), rescore_p50_ms: p50(rescoreMs), recall_at_10: recall, build_s: buildS }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
