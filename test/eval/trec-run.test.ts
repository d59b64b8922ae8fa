import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { formatTrecRun, readTrecRun, writeTrecRun } from '../../src/eval/trec-run.js'

t.test('lines are in trec_eval order: score descending, ties by doc id descending', async (t) => {
  const text = formatTrecRun({ q1: { a: 0.5, b: 0.5, c: 0.9 }, q2: { x: -1 } }, { tag: 'bm25' })
  t.equal(text, ['q1 Q0 c 1 0.9 bm25', 'q1 Q0 b 2 0.5 bm25', 'q1 Q0 a 3 0.5 bm25', 'q2 Q0 x 1 -1 bm25', ''].join('\n'))
  t.equal(formatTrecRun(new Map([['q', new Map([['d', 1], ['e', 2]])]]), { depth: 1 }), 'q Q0 e 1 2 funnel\n', 'depth cuts; default tag')
})

t.test('write then read gives back the same scores, bit for bit', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'run.txt')
  const run = new Map([
    ['1', new Map([['31715818', 0.1 + 0.2], ['4983', 1e-7], ['13', -3.25]])],
    ['3', new Map([['7', 12345.678901234567]])],
  ])
  await writeTrecRun(path, run, { tag: 'test' })
  const back = await readTrecRun(path)
  t.same([...back.keys()], ['1', '3'])
  t.equal(back.get('1')?.get('31715818'), 0.1 + 0.2)
  t.equal(back.get('1')?.get('4983'), 1e-7)
  t.equal(back.get('3')?.get('7'), 12345.678901234567)
  t.equal((await readFile(path, 'utf8')).split('\n')[0], '1 Q0 31715818 1 0.30000000000000004 test')
})

t.test('reading tolerates runs of spaces and tabs, and blank lines', async (t) => {
  const dir = t.testdir({ 'run.txt': 'q1\tQ0\td1\t1\t2.5\tx\n\n  q1 0  d2  2  1  x  \n' })
  const run = await readTrecRun(join(dir, 'run.txt'))
  t.same([...run.get('q1')!], [['d1', 2.5], ['d2', 1]])
})

t.test('malformed run files name the file and the line', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'bad.run')
  await writeFile(path, 'q Q0 d 1 1 tag\nq Q0 e 2 1\n')
  await t.rejects(readTrecRun(path), { message: `${path}:2: expected 6 fields (qid Q0 docid rank score tag), got 5` })
  await writeFile(path, 'q Q0 d 1 high tag\n')
  await t.rejects(readTrecRun(path), { message: /bad\.run:1: score must be a number, got "high"/ })
  await writeFile(path, 'q Q0 d first 1 tag\n')
  await t.rejects(readTrecRun(path), { message: /bad\.run:1: rank must be a non-negative integer/ })
  await writeFile(path, 'q Q0 d 1 1 tag\nq Q0 d 2 0.5 tag\n')
  await t.rejects(readTrecRun(path), { message: /bad\.run:2: document 'd' appears twice for query 'q'/ })
  await t.rejects(readTrecRun(join(dir, 'missing.run')), { message: /TREC run file not found: .*missing\.run/ })
})

t.test('ids and tags with whitespace are refused rather than written corrupt', async (t) => {
  t.throws(() => formatTrecRun({ q: { 'a b': 1 } }), /TREC run doc id: "a b" is not allowed/)
  t.throws(() => formatTrecRun({ 'q 1': { a: 1 } }), /TREC run query id/)
  t.throws(() => formatTrecRun({ q: { a: 1 } }, { tag: '' }), /TREC run tag/)
})
