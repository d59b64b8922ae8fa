/**
 * BM25 parity between the backends on a BEIR dataset (issue 15): Weaviate's BM25 over Funnel's
 * analysed terms (the weaviate backend) against FTS5 over the same terms (the embedded backend's
 * Bm25Index), on the same corpus and queries in one run, with nDCG@10 and Recall@100 from
 * src/eval/metrics.ts. The Weaviate side is measured twice: right after the import is acknowledged
 * (read-your-writes) and again after a pause.
 *
 *   npx tsx bench/weaviate/bm25-parity.ts [--dataset ../shared/datasets/scifact] [--split test] [--settle-s 60] [--shards 1]
 *
 * Uses the cluster in FUNNEL_WEAVIATE_URLS, or starts a 3-node one in a temp folder (and stops it).
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { WeaviateCluster } from '../../scripts/cluster/weaviate-cluster.js'
import { documentText, loadQrels, loadQueries, readCorpus } from '../../src/eval/beir.js'
import { evaluateRun } from '../../src/eval/metrics.js'
import { Bm25Index } from '../../src/retrieval/bm25-index.js'
import { analyze, countTerms, defaultAnalysisSettings } from '../../src/retrieval/text-analysis.js'
import type { DocumentWrite } from '../../src/store/backend.js'
import { WeaviateBackend } from '../../src/store/weaviate/weaviate-backend.js'

const LIMIT = 100

type Run = Map<string, Map<string, number>>

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string', default: path.resolve('../shared/datasets/scifact') },
      split: { type: 'string', default: 'test' },
      'settle-s': { type: 'string', default: '60' },
      shards: { type: 'string', default: '1' },
    },
  })
  const dataset = path.resolve(values.dataset!)
  const corpus: { id: string; text: string }[] = []
  for await (const doc of readCorpus(dataset)) corpus.push({ id: doc.id, text: documentText(doc) })
  const qrels = await loadQrels(dataset, values.split!)
  const allQueries = await loadQueries(dataset)
  const queries = [...qrels.keys()].map((id) => allQueries.get(id)!).filter((q) => q !== undefined)
  console.log(`${path.basename(dataset)}: ${corpus.length} documents, ${queries.length} ${values.split} queries`)

  // FTS5, as the embedded backend runs it.
  const db = new Database(':memory:')
  const fts = new Bm25Index(db, 'parity', defaultAnalysisSettings)
  let started = performance.now()
  fts.upsert(corpus)
  console.log(`fts5: indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const ftsRun: Run = new Map()
  started = performance.now()
  for (const q of queries) ftsRun.set(q.id, new Map(fts.search(q.text, LIMIT).map((hit) => [hit.id, hit.score])))
  report('fts5 (embedded)', ftsRun, qrels, queries.length, performance.now() - started)

  // The same BM25 computed here with each engine's idf, to tell the formula apart from the engine.
  const reference = new ReferenceBm25(corpus)
  const runs = { fts5: new Map(), lucene: new Map(), weaviate: new Map() } as Record<Variant, Run>
  for (const q of queries) for (const variant of ['fts5', 'lucene', 'weaviate'] as const) runs[variant].set(q.id, reference.search(q.text, LIMIT, variant))
  report('reference BM25 here, FTS5 idf log((N-n+0.5)/(n+0.5)), length in terms', runs.fts5, qrels, queries.length, 0)
  compareTop10(ftsRun, runs.fts5, 'fts5')
  report('reference BM25 here, Lucene idf log(1+(N-n+0.5)/(n+0.5)), length in terms', runs.lucene, qrels, queries.length, 0)
  report('reference BM25 here, Lucene idf, length in distinct terms', runs.weaviate, qrels, queries.length, 0)

  let cluster: WeaviateCluster | undefined
  let dir: string | undefined
  let urls = process.env.FUNNEL_WEAVIATE_URLS
  if (!urls) {
    dir = mkdtempSync(path.join(tmpdir(), 'funnel-bm25-parity-'))
    started = performance.now()
    cluster = await WeaviateCluster.start({ dir, readyTimeoutMs: 300_000 })
    urls = cluster.urls
    console.log(`weaviate: 3-node cluster ready in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  const backend = new WeaviateBackend({ urls, consistency: 'QUORUM', timeoutMs: 120_000, replicationFactor: 3, shards: Number(values.shards), classPrefix: `Parity${process.pid}`, log: pino({ level: 'warn' }) })
  try {
    // The vectors do not matter here: 2 dims keep the HNSW work out of the import time.
    await backend.createCollection({ name: 'scifact', model: 'none', dims: 2, index_dims: 2, index: { m: 16, ef_construction: 64, ef_search: 64 }, settings: {} })
    started = performance.now()
    const docs: DocumentWrite[] = corpus.map((doc, i) => ({ id: doc.id, text: doc.text, metadata: null, vector: Float32Array.of(Math.cos(i), Math.sin(i)) }))
    for (let i = 0; i < docs.length; i += 200) await backend.upsert('scifact', docs.slice(i, i + 200))
    const importS = (performance.now() - started) / 1000
    console.log(`weaviate (${values.shards} shard(s), replication factor 3): imported at QUORUM in ${importS.toFixed(1)} s (${Math.round(docs.length / importS)} docs/s)`)
    for (const [label, settle] of [
      ['weaviate, right after the import', 0],
      [`weaviate, ${values['settle-s']} s later`, Number(values['settle-s']) * 1000],
    ] as const) {
      await new Promise((resolve) => setTimeout(resolve, settle))
      const run: Run = new Map()
      started = performance.now()
      for (const q of queries) run.set(q.id, new Map((await backend.lexicalSearch('scifact', { query: q.text, limit: LIMIT })).map((hit) => [hit.id, hit.score])))
      report(label, run, qrels, queries.length, performance.now() - started)
      compareTop10(ftsRun, run, 'fts5')
      compareTop10(runs.lucene, run, 'the Lucene-idf reference')
      compareTop10(runs.weaviate, run, 'the Lucene-idf, distinct-terms reference')
    }
  } finally {
    await backend.dropCollection('scifact').catch(() => {})
    await backend.close()
    if (cluster !== undefined) await cluster.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
}

function report(label: string, run: Run, qrels: Map<string, Map<string, number>>, queries: number, ms: number): void {
  const { mean } = evaluateRun(run, qrels, { ndcgAt: [10], recallAt: [100] })
  console.log(`${label}: nDCG@10 ${mean['ndcg@10']!.toFixed(4)}  Recall@100 ${mean['recall@100']!.toFixed(4)}  (${queries} queries in ${(ms / 1000).toFixed(1)} s, ${(ms / queries).toFixed(1)} ms each)`)
}

/**
 * BM25 over the analysed terms with k1 1.2 and b 0.75 (FTS5's fixed values, and the weaviate
 * backend's), in three variants:
 * - 'fts5': FTS5's idf log((N - n + 0.5) / (n + 0.5)), floored at 1e-6; length = terms;
 * - 'lucene': Lucene's idf log(1 + (N - n + 0.5) / (n + 0.5)), which never goes negative; length = terms;
 * - 'weaviate': Lucene's idf, length = distinct terms, as Weaviate 1.35 counts a document's length
 *   for its map-collection BM25 index and for the average (shard_write_inverted_lsm.go).
 */
type Variant = 'fts5' | 'lucene' | 'weaviate'

class ReferenceBm25 {
  private readonly postings = new Map<string, { doc: number; tf: number }[]>()
  private readonly lengths: number[] = []
  private readonly distinct: number[] = []
  private readonly ids: string[] = []
  private readonly averageLength: number
  private readonly averageDistinct: number

  constructor(corpus: readonly { id: string; text: string }[]) {
    corpus.forEach((doc, index) => {
      const terms = analyze(doc.text, defaultAnalysisSettings)
      const counts = countTerms(terms)
      this.ids.push(doc.id)
      this.lengths.push(terms.length)
      this.distinct.push(counts.size)
      for (const [term, tf] of counts) {
        let list = this.postings.get(term)
        if (list === undefined) this.postings.set(term, (list = []))
        list.push({ doc: index, tf })
      }
    })
    this.averageLength = this.lengths.reduce((a, b) => a + b, 0) / this.lengths.length
    this.averageDistinct = this.distinct.reduce((a, b) => a + b, 0) / this.distinct.length
  }

  search(query: string, limit: number, variant: Variant): Map<string, number> {
    const n = this.ids.length
    const [lengths, average] = variant === 'weaviate' ? [this.distinct, this.averageDistinct] : [this.lengths, this.averageLength]
    const scores = new Map<number, number>()
    for (const [term, count] of countTerms(analyze(query, defaultAnalysisSettings))) {
      const list = this.postings.get(term) ?? []
      const ratio = (n - list.length + 0.5) / (list.length + 0.5)
      const idf = variant === 'fts5' ? Math.max(1e-6, Math.log(ratio)) : Math.log(1 + ratio)
      for (const { doc, tf } of list) {
        const norm = tf + 1.2 * (1 - 0.75 + (0.75 * lengths[doc]!) / average)
        scores.set(doc, (scores.get(doc) ?? 0) + count * idf * ((tf * 2.2) / norm))
      }
    }
    const ranked = [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, limit)
    return new Map(ranked.map(([doc, score]) => [this.ids[doc]!, score]))
  }
}

/** How often two runs agree on the top 10 (same ids, any order), and on the first hit. */
function compareTop10(a: Run, b: Run, against: string): void {
  let sameSet = 0
  let sameFirst = 0
  for (const [id, scores] of a) {
    const top = (run: Map<string, number> | undefined) => [...(run ?? new Map())].sort((x, y) => y[1] - x[1]).slice(0, 10).map(([doc]) => doc)
    const x = top(scores)
    const y = top(b.get(id))
    if (x.length === y.length && x.every((doc) => y.includes(doc))) sameSet++
    if (x[0] === y[0]) sameFirst++
  }
  console.log(`  agreement with ${against}: same top-10 set on ${sameSet}/${a.size} queries, same first hit on ${sameFirst}/${a.size}`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
