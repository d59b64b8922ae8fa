import { writeFile, mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import t from 'tap'
import { documentText, loadQrels, loadQueries, readCorpus, type BeirDocument } from '../../src/eval/beir.js'
import { sharedPath } from '../helpers/shared-data.js'

const TINY = resolve(import.meta.dirname, '../fixtures/beir-tiny')
const scifact = sharedPath('datasets/scifact')
const cranfield = sharedPath('datasets/cranfield')
const SCIFACT = scifact.path
const CRANFIELD = cranfield.path

async function collect(dir: string): Promise<BeirDocument[]> {
  const docs: BeirDocument[] = []
  for await (const doc of readCorpus(dir)) docs.push(doc)
  return docs
}

const judgmentCount = (qrels: Map<string, Map<string, number>>): number =>
  [...qrels.values()].reduce((sum, labels) => sum + labels.size, 0)

t.test('the committed tiny sample: corpus, queries with metadata, graded qrels', async (t) => {
  const docs = await collect(TINY)
  t.same(docs.map((doc) => doc.id), ['d1', 'd2', 'd3'])
  t.equal(documentText(docs[0]!), 'Castles The king ruled the castle.')
  t.equal(docs[2]!.text, '', 'an empty text is kept as empty')
  const queries = await loadQueries(TINY)
  t.equal(queries.get('q1')?.text, 'who ruled the castle')
  t.same(queries.get('q1')?.metadata, { orig_id: '001' })
  const qrels = await loadQrels(TINY, 'test')
  t.same([...qrels.get('q1')!], [['d1', 2], ['d3', 0]])
  t.same([...qrels.get('q2')!], [['d2', 1]])
})

t.test('SciFact: 5183 docs, 300 judged test queries, 339 qrels', { skip: scifact.skip }, async (t) => {
  const docs = await collect(SCIFACT)
  t.equal(docs.length, 5183)
  t.equal(new Set(docs.map((doc) => doc.id)).size, 5183, 'ids are unique')
  t.equal(docs[0]!.id, '4983')
  t.match(docs[0]!.title, /^Microstructural development/)

  const qrels = await loadQrels(SCIFACT, 'test')
  t.equal(qrels.size, 300)
  t.equal(judgmentCount(qrels), 339)
  t.equal(qrels.get('1')?.get('31715818'), 1)
  t.notOk(qrels.has('query-id'), 'the header line is not data')

  const queries = await loadQueries(SCIFACT)
  t.equal(queries.get('0')?.text, '0-dimensional biomaterials lack inductive properties.')
  const unknown = [...qrels.keys()].filter((id) => !queries.has(id))
  t.same(unknown, [], 'every judged query has a text')
  const corpusIds = new Set(docs.map((doc) => doc.id))
  const judgedDocs = [...qrels.values()].flatMap((labels) => [...labels.keys()])
  t.ok(judgedDocs.every((id) => corpusIds.has(id)), 'every judged doc is in the corpus')
})

t.test('Cranfield: 1400 docs incl. two empty ones, 225 queries, 1612 graded qrels', { skip: cranfield.skip }, async (t) => {
  const docs = await collect(CRANFIELD)
  t.equal(docs.length, 1400)
  t.same(docs.filter((doc) => doc.text === '').map((doc) => doc.id), ['471', '995'])

  const qrels = await loadQrels(CRANFIELD, 'test')
  t.equal(qrels.size, 225)
  t.equal(judgmentCount(qrels), 1612)
  const labels = new Set([...qrels.values()].flatMap((m) => [...m.values()]))
  t.same([...labels].sort(), [1, 2, 3, 4])

  const queries = await loadQueries(CRANFIELD)
  t.equal(queries.size, 225)
  t.same(queries.get('1')?.metadata, { orig_id: '001' }, 'metadata is kept')
})

t.test('documentText joins title and text with one space', async (t) => {
  t.equal(documentText({ title: 'A title', text: 'body' }), 'A title body')
  t.equal(documentText({ title: '', text: 'body' }), 'body')
  t.equal(documentText({ title: 'only', text: '' }), 'only')
  t.equal(documentText({ title: '', text: '' }), '')
})

t.test('malformed input names the file and the line', async (t) => {
  const dir = t.testdir({ qrels: {} })
  const corpus = join(dir, 'corpus.jsonl')
  await writeFile(corpus, '{"_id": "a", "text": "fine"}\n\n{"_id": "b", "text": "broken"\n')
  await t.rejects(collect(dir), { message: `${corpus}:3: invalid JSON` }, 'full path and line number')

  await writeFile(corpus, '["a", "b"]\n')
  await t.rejects(collect(dir), { message: /corpus\.jsonl:1: expected a JSON object/ })

  await writeFile(corpus, '{"_id": "a", "text": 7}\n')
  await t.rejects(collect(dir), { message: /corpus\.jsonl:1: "text" must be a string, got 7/ })

  await writeFile(corpus, '{"title": "no id", "text": ""}\n')
  await t.rejects(collect(dir), { message: /corpus\.jsonl:1: "_id" must be a non-empty string/ })

  await writeFile(join(dir, 'queries.jsonl'), '{"_id": "q", "text": "x"}\n{"_id": "q", "text": "y"}\n')
  await t.rejects(loadQueries(dir), { message: /queries\.jsonl:2: duplicate query id 'q'/ })

  await mkdir(join(dir, 'qrels'), { recursive: true })
  await writeFile(join(dir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq\td\t1\nq\td2\tyes\n')
  await t.rejects(loadQrels(dir, 'test'), { message: /test\.tsv:3: score must be an integer, got "yes"/ })

  await writeFile(join(dir, 'qrels', 'test.tsv'), 'q d 1\n')
  await t.rejects(loadQrels(dir, 'test'), { message: /test\.tsv:1: expected 3 tab-separated fields/ })

  await t.rejects(loadQrels(dir, 'dev'), { message: /BEIR file not found: .*dev\.tsv/ })
})

t.test('a qrels file without a header is read from the first line', async (t) => {
  const dir = t.testdir({ qrels: { 'test.tsv': 'q1\td1\t2\nq1\td2\t0\n' } })
  const qrels = await loadQrels(dir, 'test')
  t.same([...qrels.get('q1')!], [['d1', 2], ['d2', 0]])
})
