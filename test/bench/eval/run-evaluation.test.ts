import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { judgedQueryIds, runEvaluation } from '../../../bench/eval/run-evaluation.js'

// Three judged queries in qrels order q3, q1, q2; q9 is judged but has no text; q4 has a text but no qrels.
const dataset = {
  'queries.jsonl': ['q1', 'q2', 'q3', 'q4'].map((id) => JSON.stringify({ _id: id, text: `text of ${id}` })).join('\n') + '\n',
  qrels: { 'test.tsv': 'query-id\tcorpus-id\tscore\nq3\td3\t1\nq1\td1\t1\nq9\td9\t1\nq2\td2\t1\n' },
}

/** A search pipeline that ranks the query's own relevant document first (q1 -> d1), so each run query scores 1. */
function stubApp(asked: string[]): FastifyInstance {
  const search = async (_collection: string, request: { query: string }) => {
    asked.push(request.query)
    const id = request.query.replace('text of q', 'd')
    return { results: [{ id, score: 1 }, { id: 'other', score: 0.5 }], mode: 'lexical' }
  }
  return { searchPipeline: { search } } as unknown as FastifyInstance
}

t.test('judgedQueryIds keeps qrels order, drops queries without a text, and cuts to the first N', async (t) => {
  const qrels = new Map([['q3', new Map([['d3', 1]])], ['q1', new Map([['d1', 1]])], ['q9', new Map([['d9', 1]])], ['q2', new Map([['d2', 1]])]])
  const queries = new Map(['q1', 'q2', 'q3'].map((id) => [id, { id, text: id, metadata: {} }]))
  t.same(judgedQueryIds(qrels, queries), ['q3', 'q1', 'q2'])
  t.same(judgedQueryIds(qrels, queries, 2), ['q3', 'q1'])
  t.same(judgedQueryIds(qrels, queries, 10), ['q3', 'q1', 'q2'], 'N above the count keeps them all')
  t.throws(() => judgedQueryIds(qrels, queries, 0), RangeError)
  t.throws(() => judgedQueryIds(qrels, queries, 1.5), RangeError)
})

t.test('maxQueries runs the first N judged queries and scores only their qrels', async (t) => {
  const dir = t.testdir(dataset)
  const asked: string[] = []
  const outcome = await runEvaluation(stubApp(asked), 'c', dir, 'test', { top_k: 10 }, 'test', { maxQueries: 2 })
  t.same(asked, ['text of q3', 'text of q1'])
  t.equal(outcome.queries, 2)
  t.same(outcome.subset, { first: 2, of: 3 })
  t.equal(outcome.metrics['ndcg@10'], 1, 'queries left out do not count as empty rankings')
  t.same([...outcome.run.keys()], ['q3', 'q1'])
})

t.test('without maxQueries every judged query runs and no subset is reported', async (t) => {
  const dir = t.testdir(dataset)
  const asked: string[] = []
  const outcome = await runEvaluation(stubApp(asked), 'c', dir, 'test', { top_k: 10 })
  t.equal(asked.length, 3)
  t.equal(outcome.queries, 4, 'as before the option: q9, judged without a text, is scored as an empty ranking')
  t.equal(outcome.metrics['ndcg@10'], 0.75)
  t.equal(outcome.subset, undefined)
  t.same(outcome.modes, ['lexical'], 'the mode the responses say ran (the collection default when the request names none)')
})
