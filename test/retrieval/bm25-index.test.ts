import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Bm25Index, INLINE_DF_TERMS, MAX_WEIGHTED_TERMS, preAnalyze } from '../../src/retrieval/bm25-index.js'
import { LoopSlicer } from '../../src/event-loop.js'
import { analyze, analyzeInSlices, porterStem, tokenize, type AnalysisSettings } from '../../src/retrieval/text-analysis.js'

const english: AnalysisSettings = { lowercase: true, stemming: 'porter', stopwords: 'english' }

/** A file-backed database in a fresh temp dir, removed at teardown. */
function openDatabase(t: Test): { db: Database.Database; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'funnel-bm25-'))
  const file = join(dir, 'index.db')
  const db = new Database(file)
  t.teardown(() => {
    if (db.open) db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { db, file }
}

const ids = (hits: { id: string }[]): string[] => hits.map((hit) => hit.id)

const corpus = [
  { id: 'run', text: 'The athlete was running a marathon' },
  { id: 'runs', text: 'She runs every morning before work' },
  { id: 'cat', text: 'A cat sat on the mat' },
  { id: 'dog', text: "The dog's bark was loud" },
  { id: 'mixed', text: 'Cats and dogs: running together' },
]

t.test('Porter stems match NLTK (MARTIN_EXTENSIONS, i.e. Porter\'s C/Java and Lucene)', async (t) => {
  // Golden values from nltk 3.10 PorterStemmer(mode=MARTIN_EXTENSIONS); the full SciFact vocabulary
  // (29,585 words) was also cross-checked with 0 differences.
  const golden: Record<string, string> = {
    caresses: 'caress', ponies: 'poni', ties: 'ti', agreed: 'agre', plastered: 'plaster', motoring: 'motor',
    sing: 'sing', conflated: 'conflat', sized: 'size', hopping: 'hop', falling: 'fall', hissing: 'hiss',
    filing: 'file', happy: 'happi', sky: 'sky', relational: 'relat', conditional: 'condit', hesitanci: 'hesit',
    conformabli: 'conform', differentli: 'differ', vietnamization: 'vietnam', decisiveness: 'decis',
    hopefulness: 'hope', sensibiliti: 'sensibl', triplicate: 'triplic', electrical: 'electr', allowance: 'allow',
    adjustable: 'adjust', irritant: 'irrit', replacement: 'replac', adoption: 'adopt', homologous: 'homolog',
    bowdlerize: 'bowdler', cease: 'ceas', controll: 'control', roll: 'roll', generalization: 'gener',
    running: 'run', runs: 'run', analogi: 'analog', archaeology: 'archaeolog', as: 'as',
  }
  for (const [word, stem] of Object.entries(golden)) t.equal(porterStem(word), stem, word)
})

t.test('analysis: segmentation, possessives, stop words', async (t) => {
  t.same(tokenize("The U.S. runner's 3.14 1,000 a,b don't"), ['the', 'u.s', 'runner', '3.14', '1,000', 'a', 'b', "don't"])
  t.same(analyze('The cats of the world are running', english), ['cat', 'world', 'run'])
  t.same(analyze('The cats', { lowercase: true, stemming: 'none', stopwords: 'none' }), ['the', 'cats'])
})

t.test('upsert, search ranks by bm25 with stemming, count', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  t.equal(index.count(), 5)
  const hits = index.search('run', 10)
  t.same(ids(hits).sort(), ['mixed', 'run', 'runs'], "'run' matches running and runs")
  t.same(hits.map((hit) => hit.rank), [1, 2, 3])
  t.ok(hits.every((hit) => hit.score > 0), 'score = -bm25(), higher is better')
  t.ok(hits[0]!.score >= hits[1]!.score && hits[1]!.score >= hits[2]!.score, 'ordered best first')
  t.same(ids(index.search('barking dogs', 10)).sort(), ['dog', 'mixed'], "possessive \"dog's\" indexes as 'dog'")
  t.equal(index.search('cat', 1).length, 1, 'limit applies')
  t.throws(() => index.search('cat', 0), { code: 'invalid_value' })
})

t.test('upsert of an existing id replaces its text', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  index.upsert([{ id: 'cat', text: 'quantum chromodynamics' }])
  t.equal(index.count(), 5, 'no duplicate row')
  t.same(ids(index.search('mat', 10)), [], 'old text no longer matches')
  t.same(ids(index.search('quantum', 10)), ['cat'])
  t.same(index.documentFrequencies(['mat', 'quantum']), new Map([['mat', 0], ['quantum', 1]]), 'df follows the rewrite')
})

t.test('delete removes documents and their statistics', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  t.equal(index.delete(['run', 'runs', 'nope']), 2, 'unknown ids are ignored')
  t.equal(index.count(), 3)
  t.same(ids(index.search('run', 10)), ['mixed'])
  t.same(index.documentFrequencies(['run', 'cat']), new Map([['run', 1], ['cat', 2]]))
  t.same(index.termCounts(['run']), new Map(), 'a deleted id has no term counts')
})

t.test('queries with FTS5 syntax never throw; stop-word-only queries return []', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  t.same(index.search('the and of', 10), [], 'only stop words')
  t.same(index.search('', 10), [])
  t.same(index.search('  ?!  ', 10), [])
  const hostile = ['"cat', 'cat"', 'cat AND', 'OR cat', 'NEAR(cat dog)', 'cat*', '*', 'terms:cat', ':', '^cat', '-cat',
    '(cat', 'cat)', '{terms}: cat', "c'at", 'cat + dog', 'NOT cat', '"""', 'cat\u0000dog']
  for (const query of hostile) t.doesNotThrow(() => index.search(query, 10), JSON.stringify(query))
  t.same(ids(index.search('NEAR(cat dog*)', 10)).sort(), ['cat', 'dog', 'mixed'], 'operators are plain words')
  t.same(index.search('OR AND NOT', 10), [], 'NOT is a stop word, AND/OR too')
})

t.test('the index persists across reopening', async (t) => {
  const { db, file } = openDatabase(t)
  new Bm25Index(db, 'docs', english).upsert(corpus)
  db.close()
  const reopened = new Database(file)
  t.teardown(() => reopened.close())
  const index = new Bm25Index(reopened, 'docs', english)
  t.equal(index.count(), 5)
  t.same(ids(index.search('cat', 10)).sort(), ['cat', 'mixed'])
  t.throws(() => new Bm25Index(reopened, 'docs', { ...english, stemming: 'none' }), { code: 'invalid_request' },
    'reopening with other analysis settings is refused')
})

t.test('collection keys are validated; indexes are independent; drop removes tables', async (t) => {
  const { db } = openDatabase(t)
  for (const key of ['', 'Docs', '1docs', 'docs; DROP TABLE x', 'a-b', 'x'.repeat(64)]) {
    t.throws(() => new Bm25Index(db, key, english), { code: 'invalid_value' }, JSON.stringify(key))
  }
  const a = new Bm25Index(db, 'a', english)
  const b = new Bm25Index(db, 'b', english)
  a.upsert(corpus)
  t.equal(b.count(), 0)
  a.drop()
  const left = db.prepare(`SELECT name FROM sqlite_master WHERE name LIKE 'fts_a%'`).pluck().all()
  t.same(left, [], 'no table of the dropped index is left')
  t.equal(new Bm25Index(db, 'a', english).count(), 0, 'a dropped key can be recreated')
})

t.test('writes join the caller\'s transaction', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  const failing = db.transaction(() => {
    index.upsert(corpus)
    throw new Error('document write failed')
  })
  t.throws(() => failing(), /document write failed/)
  t.equal(index.count(), 0, 'rolled back with the outer transaction')
})

t.test('term statistics for feedback', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert([...corpus, { id: 'rep', text: 'run run running cat' }])
  t.same(index.termCounts(['rep', 'missing']), new Map([['rep', new Map([['run', 3], ['cat', 1]])]]))
  t.same(index.documentFrequencies(['run', 'cat', 'unknown']), new Map([['run', 4], ['cat', 3], ['unknown', 0]]))
  t.same(index.analyzeQuery('The running cats'), ['run', 'cat'])
})

t.test('weighted search: per-term weights, equal to search when weights are query counts', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  const plain = index.search('run run cat', 10)
  const weighted = index.searchTerms([{ term: 'run', weight: 2 }, { term: 'cat', weight: 1 }], 10)
  t.same(ids(weighted), ids(plain))
  weighted.forEach((hit, i) => t.ok(Math.abs(hit.score - plain[i]!.score) < 1e-9, `score of ${hit.id}`))
  const catOnly = index.searchTerms([{ term: 'cat', weight: 1 }], 10)
  const catHeavy = index.searchTerms([{ term: 'run', weight: 1 }, { term: 'cat', weight: 100 }], 10)
  t.same(ids(catHeavy).slice(0, 2).sort(), ids(catOnly).sort(), 'a heavy term dominates the order')
  t.same(index.searchTerms([{ term: 'run', weight: 0 }], 10), [], 'zero weight terms are dropped')
  t.same(index.searchTerms([{ term: '"NEAR(', weight: 1 }], 10), [], 'terms are quoted')
  t.throws(() => index.searchTerms([{ term: 'run', weight: Number.NaN }], 10), { code: 'invalid_value' })
  const tooMany = Array.from({ length: MAX_WEIGHTED_TERMS + 1 }, (_, i) => ({ term: `t${i}`, weight: 1 }))
  t.throws(() => index.searchTerms(tooMany, 10), { code: 'invalid_request' })
})

t.test('document frequencies stay exact through batched rewrites and deletes', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  index.upsert([
    { id: 'cat', text: 'dogs and more dogs' },
    { id: 'cat', text: 'a running cat, again' },
    { id: 'new', text: 'mat mat mat' },
  ])
  index.delete(['dog', 'dog', 'runs'])
  index.upsert([{ id: 'empty', text: 'the of and' }])
  const allIds = ['run', 'runs', 'cat', 'dog', 'mixed', 'new', 'empty']
  const expected = new Map<string, number>()
  for (const counts of index.termCounts(allIds).values()) {
    for (const term of counts.keys()) expected.set(term, (expected.get(term) ?? 0) + 1)
  }
  t.same(index.documentFrequencies([...expected.keys()]), expected, 'df table = df recomputed from stored terms')
  const stored = db.prepare('SELECT count(*) FROM fts_docs_df').pluck().get()
  t.equal(stored, expected.size, 'terms whose df fell to 0 are removed')
  t.equal(index.count(), 5)
  t.same(index.termCounts(['empty']), new Map([['empty', new Map()]]), 'a document of stop words is indexed, with no terms')
})

/** df of every stored term, recomputed from the terms FTS5 holds. */
function recomputedDf(index: Bm25Index, allIds: readonly string[]): Map<string, number> {
  const expected = new Map<string, number>()
  for (const counts of index.termCounts(allIds).values()) {
    for (const term of counts.keys()) expected.set(term, (expected.get(term) ?? 0) + 1)
  }
  return expected
}

/** A text of `n` distinct made-up words (w0 ... wn-1 in base 36, none a stop word or stemmed away). */
const manyWords = (n: number, prefix = 'zq'): string => Array.from({ length: n }, (_, i) => `${prefix}${i.toString(36)}x`).join(' ')

t.test('a write with more than INLINE_DF_TERMS distinct terms queues its df changes, applied in steps (issue 13, finding 4)', async (t) => {
  const { db, file } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  t.equal(index.pendingDocumentFrequencyTerms(), 0, 'small writes apply df in their transaction')
  const long = manyWords(INLINE_DF_TERMS + 1000)
  index.upsert([{ id: 'long', text: `${long} running cat` }])
  const queued = index.pendingDocumentFrequencyTerms()
  t.equal(queued, INLINE_DF_TERMS + 1002, 'every distinct term of the long document is queued')
  t.equal(index.documentFrequencies(['zq0x']).get('zq0x'), 0, 'df lags until the queue is applied')
  t.same(index.search('zq0x', 10).map((h) => h.id), ['long'], 'the document itself is searchable at once')
  // A later small write queues behind it, so changes apply in write order.
  index.delete(['cat'])
  index.upsert([{ id: 'long2', text: 'zq0x zq1x' }])
  t.ok(index.pendingDocumentFrequencyTerms() > queued, 'a write behind a queue is queued too')
  t.equal(index.drainDocumentFrequencies(1000), true, 'one step applies at most maxTerms and says more remain')
  t.equal(index.pendingDocumentFrequencyTerms(), queued + 5 - 1000, 'exactly maxTerms were taken off the queue (cat, sat, mat and two zq terms queued behind)')
  const afterOne = index.pendingDocumentFrequencyTerms()
  t.ok(afterOne < queued + 4 && afterOne > 0)
  // A crash between steps keeps what is left: reopen the file and finish there.
  db.close()
  const reopened = new Database(file)
  t.teardown(() => reopened.open && reopened.close())
  const again = new Bm25Index(reopened, 'docs', english)
  t.equal(again.pendingDocumentFrequencyTerms(), afterOne, 'the queue survives a restart')
  let steps = 0
  while (again.drainDocumentFrequencies(100)) steps++
  t.equal(steps + 1, Math.ceil(afterOne / 100), `the ${afterOne} left take steps of at most 100 terms`)
  t.equal(again.pendingDocumentFrequencyTerms(), 0)
  const allIds = ['run', 'runs', 'cat', 'dog', 'mixed', 'long', 'long2']
  const expected = recomputedDf(again, allIds)
  t.same(again.documentFrequencies([...expected.keys(), 'cat']), new Map([...expected, ['cat', expected.get('cat') ?? 0]]), 'df = df recomputed from stored terms')
  t.equal(expected.get('zq0x'), 2)
  t.equal(reopened.prepare('SELECT count(*) FROM fts_docs_df').pluck().get(), expected.size, 'deleted terms are gone from the df table')
  t.equal(again.drainDocumentFrequencies(), false, 'nothing left')
  again.upsert([{ id: 'small', text: 'a cat' }])
  t.equal(again.pendingDocumentFrequencyTerms(), 0, 'with the queue empty, small writes apply inline again')
  t.throws(() => again.drainDocumentFrequencies(0), { code: 'invalid_value' })
})

t.test('a drain step merges queued rows: a term queued by several documents is one df change', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  const words = manyWords(INLINE_DF_TERMS + 44)
  for (const id of ['a', 'b', 'c']) index.upsert([{ id, text: words }])
  t.equal(index.pendingDocumentFrequencyTerms(), 3 * (INLINE_DF_TERMS + 44), 'three rows queued')
  t.equal(index.drainDocumentFrequencies(INLINE_DF_TERMS + 44), false, 'one step of 300 distinct terms takes all three rows')
  t.equal(index.documentFrequencies(['zq0x']).get('zq0x'), 3)
  t.equal(db.prepare('SELECT count(*) FROM fts_docs_df_pending').pluck().get(), 0)
})

t.test('FTS5 segments are merged in background steps, not in the writes\' commits (issue 13, finding 4)', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  const dataRows = () => db.prepare('SELECT count(*) FROM fts_docs_data').pluck().get() as number
  const empty = dataRows()
  for (let i = 0; i < 40; i++) index.upsert([{ id: `d${i}`, text: `${corpus[i % corpus.length]!.text} shared${i % 3}` }])
  const unmerged = dataRows()
  t.ok(unmerged - empty >= 40, `one segment per write is left for the background: ${unmerged - empty} new rows for 40 writes`)
  const before = index.search('running cat shared1', 40)
  let steps = 0
  while (index.mergeSegments(16)) steps++
  t.ok(steps >= 1, `merged in ${steps} steps`)
  t.ok(dataRows() < unmerged / 2, `segments merged: ${unmerged} rows -> ${dataRows()}`)
  t.same(index.search('running cat shared1', 40), before, 'the same hits and scores after merging')
  t.equal(index.mergeSegments(), false, 'nothing left to merge')
})

t.test('replacing and deleting a long document queues negative changes that bring df back', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  const before = recomputedDf(index, corpus.map((d) => d.id))
  index.upsert([{ id: 'long', text: manyWords(INLINE_DF_TERMS + 10) }])
  index.upsert([{ id: 'long', text: manyWords(INLINE_DF_TERMS + 10, 'qz') }])
  index.delete(['long'])
  while (index.drainDocumentFrequencies(3000));
  t.same(index.documentFrequencies([...before.keys()]), before)
  t.equal(db.prepare('SELECT count(*) FROM fts_docs_df').pluck().get(), before.size, 'no term of the removed documents is left')
})

t.test('search dedupes repeated terms into weights and refuses more distinct terms than maxTerms (issue 13, finding 3)', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  index.upsert(corpus)
  const repeated = index.search('run run cat', 10)
  const weighted = index.searchTerms([{ term: 'run', weight: 2 }, { term: 'cat', weight: 1 }], 10)
  t.same(repeated, weighted, 'a repeated term scores as a weight of its count')
  t.same(ids(index.search('cats running', 10, 2)), ids(index.search('cat run', 10)), 'two distinct terms pass maxTerms 2')
  t.throws(() => index.search('cat run dog', 10, 2), { code: 'too_many_query_terms', message: /3 distinct terms after analysis exceeds the maximum of 2/ })
  t.doesNotThrow(() => index.search('cat cat cat run run', 10, 2), 'repeats do not count toward the limit')
})

t.test('preAnalyze: analysis runs in event-loop slices before the write, and upsert stores those terms (issue 13, finding 4)', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  const docs = [{ id: 'a', text: 'running cats' }, { id: 'b', text: 'quiet dogs' }, { id: 'c', text: 'loud birds' }]
  let ranDuring = false
  setImmediate(() => (ranDuring = true))
  await preAnalyze(docs, { stopwords: 'english', stemming: 'porter', lowercase: true }, new LoopSlicer(0))
  t.equal(ranDuring, true, 'a macrotask ran between documents')
  docs[0]!.text = 'changed after analysis'
  index.upsert(docs)
  t.same(index.termCounts(['a']).get('a'), new Map([['run', 1], ['cat', 1]]), 'the pre-analysed terms were stored, not the text analysed again')
  const other = new Bm25Index(db, 'other', { lowercase: true, stemming: 'none', stopwords: 'none' })
  const later = [{ id: 'x', text: 'running cats' }]
  await preAnalyze(later, english)
  other.upsert(later)
  t.same(other.termCounts(['x']).get('x'), new Map([['running', 1], ['cats', 1]]), 'terms analysed under other settings are not reused')
})

t.test('analyzeInSlices: one large document is analysed in pieces, with the same terms as analyze (issue 13, finding 4)', async (t) => {
  // Piece boundaries fall everywhere on purpose: possessives, "u.s.a", "1,000", Greek final sigma
  // (its lowercase depends on the next character), a combining accent (NFC), and a token longer
  // than a piece.
  const words = ["runner's", 'u.s.a', '1,000', 'ΟΔΟΣ', 'ΟΔΟΣ.', 'cafe\u0301', 'Running', 'the', 'x'.repeat(70), 'stop', 'A,B']
  const joined = Array.from({ length: 4000 }, (_, i) => words[(i * 7) % words.length]!).reduce((acc, w, i) => acc + (i === 0 ? '' : i % 5 === 0 ? '\n' : '\u00a0') + w, '')
  for (const settings of [english, { lowercase: true, stemming: 'none', stopwords: 'none' } as AnalysisSettings]) {
    const expected = analyze(joined, settings)
    for (const piece of [1, 7, 64, 333, 4096]) {
      let slices = 0
      const terms = await analyzeInSlices(joined, settings, async () => void slices++, piece)
      t.same(terms, expected, `${settings.stemming}/${settings.stopwords}, pieces of ${piece}: same ${expected.length} terms`)
      t.ok(slices >= Math.floor(joined.length / Math.max(piece, 71)) - 1, `pieces of ${piece}: ${slices} slices`)
    }
  }
  let ranDuring = 0
  const timer = setInterval(() => ranDuring++, 0)
  const big = joined.repeat(20)
  await analyzeInSlices(big, english, () => new LoopSlicer(0).slice())
  clearInterval(timer)
  t.ok(ranDuring > 0, `timers ran ${ranDuring} times while a ${big.length}-character document was analysed`)
})

t.test('prefetchTermCounts: feedback documents are counted ahead in slices, with the same counts as termCounts (issue 13, finding 4)', async (t) => {
  const { db } = openDatabase(t)
  const index = new Bm25Index(db, 'docs', english)
  const long = Array.from({ length: 60_000 }, (_, i) => `word${i % 997} running`).join(' ')
  index.upsert([{ id: 'long', text: long }, ...corpus])
  let slices = 0
  const statistics = await index.prefetchTermCounts(['long', 'run', 'missing', 'run'], async () => void slices++)
  t.ok(slices >= 10, `the 60,000-word document was counted over ${slices} slices`)
  const expected = index.termCounts(['long', 'run', 'cat'])
  t.same(statistics.termCounts(['long', 'run']), new Map([['long', expected.get('long')], ['run', expected.get('run')]]), 'prefetched counts equal termCounts')
  t.same(statistics.termCounts(['cat', 'missing']), new Map([['cat', expected.get('cat')]]), 'an id not prefetched is read then; an unknown id is absent')
  t.equal(statistics.termCounts(['long']).get('long')!.get('run'), 60_000)
  t.same(statistics.documentFrequencies(['run', 'cat', 'nope']), index.documentFrequencies(['run', 'cat', 'nope']))
  t.equal(statistics.count(), index.count())
  t.same(statistics.analyzeQuery('The running cats'), ['run', 'cat'])
})
