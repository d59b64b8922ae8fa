/**
 * Quality of Matryoshka truncation and of the funnel, from vectors stored once by embed.ts:
 *
 * - exact@d: brute-force cosine on the first d dims (renormalised): what truncation alone keeps.
 * - hnsw@full: Funnel's HNSW (DenseIndex, m 16, ef_construction 200, ef_search 64 as a collection's
 *   defaults) at full dims, top_k × oversample candidates, exact rescoring: `npm run eval`'s default.
 * - funnel D×o: HNSW on the first D dims, top_k × o candidates, rescored exactly at full dims.
 * - funnel D×o, rescoring vectors kept as fp16 or int8 (one fp32 scale per vector) instead of fp32.
 *
 * nDCG@10, Recall@100 and MRR@10 with trec_eval's conventions, top_k 100 (as `npm run eval`; --top-k 10
 * measures a search for 10 hits, whose shortlist is 10 x oversample: Recall@100 is then Recall@10).
 *
 *   npx tsx bench/matryoshka/truncation-eval.ts --dataset ../shared/datasets/scifact --model google/embeddinggemma-300m \
 *     [--max-length 512] [--dims 768,512,256,128] [--index-dims 128,256] [--oversample 1,2,4,8] [--out FILE]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { DenseIndex } from '../../src/retrieval/hnsw-index.js'
import { findModel, readManifest } from '../../src/models/manifest.js'
import { corpusSubset, readDocs, readQrels } from './dataset.js'
import { scoreRun, type Ranked } from './metrics.js'
import { vectorBase, type VectorMeta } from './vectors.js'
import { toFp16Rows, toInt8Rows, type CompactRows } from './compact-vectors.js'

const HNSW = { m: 16, efConstruction: 200, efSearch: 64 }

function rows(file: string, dims: number): Float32Array[] {
  const buf = readFileSync(file)
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
  const out: Float32Array[] = []
  for (let i = 0; i + dims <= all.length; i += dims) out.push(all.subarray(i, i + dims))
  return out
}

function truncate(v: Float32Array, d: number): Float32Array {
  const t = Float32Array.from(v.subarray(0, d))
  let n = 0
  for (let i = 0; i < d; i++) n += t[i]! * t[i]!
  n = Math.sqrt(n) || 1
  for (let i = 0; i < d; i++) t[i] = t[i]! / n
  return t
}

const dot = (a: Float32Array, b: Float32Array, d: number) => {
  let s = 0
  for (let i = 0; i < d; i++) s += a[i]! * b[i]!
  return s
}

function topK(scores: Float32Array, ids: string[], k: number): Ranked {
  const idx = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!).slice(0, k)
  return idx.map((i) => [ids[i]!, scores[i]!])
}

export interface Row {
  config: string
  index_dims: number | null
  oversample: number | null
  rescore: string
  ndcg10: number
  recall100: number
  mrr10: number
  ms_per_query: number
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string' },
      model: { type: 'string' },
      split: { type: 'string', default: 'test' },
      'max-length': { type: 'string' },
      dims: { type: 'string' },
      'index-dims': { type: 'string' },
      oversample: { type: 'string', default: '1,2,4,8' },
      compact: { type: 'string', default: 'fp16,int8' },
      subset: { type: 'string' },
      'top-k': { type: 'string', default: '100' },
      'subset-file': { type: 'string' },
      'vectors-dir': { type: 'string', default: 'bench-results/matryoshka/vectors' },
      out: { type: 'string' },
    },
  })
  if (values.dataset === undefined || values.model === undefined) {
    process.stderr.write('usage: truncation-eval.ts --dataset DIR --model ID [--dims ..] [--index-dims ..] [--oversample ..]\n')
    process.exit(2)
  }
  const datasetDir = path.resolve(values.dataset)
  const dataset = path.basename(datasetDir)
  const entry = findModel(readManifest(), values.model)
  const maxLength = values['max-length'] !== undefined ? Number(values['max-length']) : (entry?.max_length ?? 512)
  const subset = values.subset !== undefined ? Number(values.subset) : undefined
  // top_k 100 as npm run eval (Recall@100); top_k 10 is a user asking for 10 hits: the funnel's shortlist is 10 x oversample.
  const TOP_K = Number(values['top-k'])
  const whole = vectorBase(values['vectors-dir'], dataset, values.model, maxLength)
  // Subsets are nested: the smallest embedded subset file of at least this size holds it (else the whole corpus's).
  const subsetFiles = readdirSync(path.dirname(whole))
    .map((f) => new RegExp(`^${path.basename(whole).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.sub(\\d+)\\.json$`).exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((n) => subset !== undefined && n >= subset)
    .sort((a, b) => a - b)
  const subsetFile = values['subset-file'] ?? (subsetFiles.length > 0 ? `${whole}.sub${subsetFiles[0]}` : undefined)
  const base = subsetFile !== undefined && existsSync(`${subsetFile}.json`) ? subsetFile : whole
  if (!existsSync(`${base}.json`)) throw new Error(`no vectors at ${base}.* (run bench/matryoshka/embed.ts first)`)
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as VectorMeta
  const full = meta.dims
  let docs = rows(`${base}.docs.f32`, full).slice(0, meta.docs.done)
  const queries = rows(`${base}.queries.f32`, full)
  let docIds = meta.docs.ids.slice(0, docs.length)
  if (queries.length !== meta.queries.ids.length || (subset === undefined && docs.length !== meta.docs.ids.length)) {
    throw new Error(`incomplete vectors: ${docs.length}/${meta.docs.ids.length} docs, ${queries.length}/${meta.queries.ids.length} queries (resume embed.ts)`)
  }
  const qrels = await readQrels(datasetDir, values.split)
  if (subset !== undefined) {
    // Any embedded subset at least this large holds it (subsets are nested); so does a whole corpus.
    const keep = new Set(corpusSubset(await readDocs(datasetDir), qrels, subset).map((d) => d.id))
    const rowsKept = docIds.map((id, i) => [id, i] as const).filter(([id]) => keep.has(id))
    if (rowsKept.length !== keep.size) throw new Error(`the vectors hold ${rowsKept.length} of the subset's ${keep.size} documents (embed more)`)
    docs = rowsKept.map(([, i]) => docs[i]!)
    docIds = rowsKept.map(([id]) => id)
  }
  const list = (s: string | undefined, fallback: number[]) => (s === undefined ? fallback : s.split(',').map(Number))
  const trained = entry?.matryoshka_dims ?? []
  const dims = list(values.dims, trained.length > 0 ? trained : [full, full / 2, full / 4, full / 6].map(Math.round))
  const indexDims = list(values['index-dims'], dims.filter((d) => d < full))
  const oversamples = list(values.oversample, [1, 2, 4, 8])
  const results: Row[] = []
  const record = (config: string, run: Map<string, Ranked>, ms: number, extra: Partial<Row>) => {
    const m = scoreRun(run, qrels)
    const row: Row = { config, index_dims: null, oversample: null, rescore: '-', ...extra, ndcg10: m.ndcg, recall100: m.recall, mrr10: m.mrr, ms_per_query: ms }
    results.push(row)
    process.stderr.write(`${config.padEnd(34)} nDCG@10 ${m.ndcg.toFixed(4)}  R@100 ${m.recall.toFixed(4)}  MRR@10 ${m.mrr.toFixed(4)}  ${ms.toFixed(2)} ms/q\n`)
  }

  // Exact (brute force) at each truncation.
  for (const d of dims) {
    const dv = docs.map((v) => truncate(v, d))
    const started = performance.now()
    const run = new Map<string, Ranked>()
    queries.forEach((q, qi) => {
      const tq = truncate(q, d)
      const scores = new Float32Array(dv.length)
      for (let i = 0; i < dv.length; i++) scores[i] = dot(tq, dv[i]!, d)
      run.set(meta.queries.ids[qi]!, topK(scores, docIds, TOP_K))
    })
    record(`exact@${d}`, run, (performance.now() - started) / queries.length, { index_dims: d, rescore: `exact@${d}` })
  }

  // HNSW at full dims and the funnel at each index dims, rescored at full dims.
  const compactKinds = (values.compact ?? '').split(',').filter((k) => k === 'fp16' || k === 'int8')
  const compact: Record<string, CompactRows> = {}
  for (const k of compactKinds) compact[k] = k === 'fp16' ? toFp16Rows(docs) : toInt8Rows(docs)
  for (const D of [full, ...indexDims]) {
    const index = DenseIndex.create({ dims: D, ...HNSW }, docs.length)
    const built = performance.now()
    docs.forEach((v, label) => index.upsert(label, v))
    const buildMs = performance.now() - built
    process.stderr.write(`hnsw@${D}: built in ${(buildMs / 1000).toFixed(1)} s\n`)
    for (const o of D === full ? [4] : oversamples) {
      const rescorers: [string, (q: Float32Array, label: number) => number][] = [['fp32', (q, l) => dot(q, docs[l]!, full)]]
      for (const k of compactKinds) rescorers.push([k, (q, l) => compact[k]!.dot(q, l)])
      for (const [kind, score] of D === full ? rescorers.slice(0, 1) : rescorers) {
        const run = new Map<string, Ranked>()
        const started = performance.now()
        queries.forEach((q, qi) => {
          const cands = index.search(q, TOP_K * o)
          const scored: Ranked = cands.map((c) => [docIds[c.label]!, score(q, c.label)])
          scored.sort((a, b) => b[1] - a[1])
          run.set(meta.queries.ids[qi]!, scored.slice(0, TOP_K))
        })
        const ms = (performance.now() - started) / queries.length
        const name = D === full ? `hnsw@${D} x${o} (npm run eval default)` : `funnel ${D}->${full} x${o}${kind === 'fp32' ? '' : ` ${kind}`}`
        record(name, run, ms, { index_dims: D, oversample: o, rescore: `${kind}@${full}` })
      }
    }
  }

  const tag = subset !== undefined ? `.sub${subset}` : ''
  const out = values.out ?? path.join('bench-results', 'matryoshka', `${dataset}${tag}__${values.model.replace(/[^A-Za-z0-9.-]/g, '_')}__L${maxLength}__k${TOP_K}.json`)
  await mkdir(path.dirname(out), { recursive: true })
  const bytesPerMillion = Object.fromEntries([
    ['fp32', full * 4 * 1e6],
    ...compactKinds.map((k) => [k, compact[k]!.bytesPerVector * 1e6]),
  ])
  await writeFile(
    out,
    JSON.stringify(
      {
        dataset,
        corpus: subset !== undefined ? `subset of ${subset}: every judged document + seeded others (bench/matryoshka/dataset.ts corpusSubset)` : 'whole',
        split: values.split,
        model: values.model,
        max_length: maxLength,
        dims: full,
        documents: docs.length,
        queries: queries.length,
        top_k: TOP_K,
        hnsw: HNSW,
        rescoring_bytes_per_million_vectors: bytesPerMillion,
        embedding: { docs_per_s: meta.docs.done / meta.docs.seconds, mean_tokens: meta.docs.tokens / meta.docs.done, truncated_docs: meta.docs.truncated, machine: meta.machine },
        rows: results,
        date: new Date().toISOString(),
      },
      null,
      2,
    ) + '\n',
  )
  const fullRow = results.find((r) => r.config === `exact@${full}`)!
  process.stdout.write(`\n| ${dataset}${tag} · ${values.model} · top_k ${TOP_K} | nDCG@10 | ×full | Recall@${Math.min(TOP_K, 100)} | MRR@10 |\n|---|---|---|---|---|\n`)
  for (const r of results) {
    process.stdout.write(`| ${r.config} | ${r.ndcg10.toFixed(4)} | ${(r.ndcg10 / fullRow.ndcg10).toFixed(3)} | ${r.recall100.toFixed(4)} | ${r.mrr10.toFixed(4)} |\n`)
  }
  process.stdout.write(`\nresult ${out}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`truncation-eval failed: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
