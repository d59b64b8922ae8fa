/**
 * A first-stage run's top-N candidates with their text, per query, for the LLM benchmarks: reads a
 * BEIR folder (queries.jsonl, corpus.jsonl, qrels/<split>.tsv) and a TREC run file.
 */
import { documentText, loadQrels, loadQueries, readCorpus, type BeirQrels } from '../../src/eval/beir.js'
import { rankByScore } from '../../src/eval/metrics.js'
import { readTrecRun } from '../../src/eval/trec-run.js'
import type { Candidate } from '../../src/candidate.js'

export interface RerankQuery {
  id: string
  text: string
  /** The first stage's top candidates, best first; `score` is the first-stage score. */
  candidates: Candidate[]
}

export interface RerankData {
  queries: RerankQuery[]
  qrels: BeirQrels
}

/** Queries that have qrels and a run entry, in queries.jsonl order, each with its run's top `topN`. */
export async function loadRerankData(dir: string, runFile: string, topN: number, split = 'test'): Promise<RerankData> {
  const [queries, qrels, run] = await Promise.all([loadQueries(dir), loadQrels(dir, split), readTrecRun(runFile)])
  const wanted = new Map<string, string[]>()
  for (const [qid] of queries) {
    const scores = run.get(qid)
    if (scores === undefined || !qrels.has(qid)) continue
    wanted.set(qid, rankByScore(scores).slice(0, topN))
  }
  const needed = new Set([...wanted.values()].flat())
  const texts = new Map<string, string>()
  for await (const doc of readCorpus(dir)) if (needed.has(doc.id)) texts.set(doc.id, documentText(doc))
  const out: RerankQuery[] = []
  for (const [qid, ids] of wanted) {
    const scores = run.get(qid)!
    out.push({
      id: qid,
      text: queries.get(qid)!.text,
      candidates: ids.map((id) => {
        const text = texts.get(id)
        if (text === undefined) throw new Error(`${runFile}: document ${id} is not in ${dir}/corpus.jsonl`)
        const score = scores instanceof Map ? scores.get(id)! : 0
        return { id, text, score, scores: { lexical: score } }
      }),
    })
  }
  return { queries: out, qrels }
}
