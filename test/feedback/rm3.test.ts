import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { estimateRelevanceModel, expandQuery, expandQueryInSlices, interpolateWithQuery } from '../../src/feedback/rm3.js'
import { Bm25Index, type TermStatistics } from '../../src/retrieval/bm25-index.js'

const documents: Record<string, Record<string, number>> = {
  d1: { apple: 3, pie: 1, crust: 2, the: 10, x: 4 },
  d2: { apple: 1, cinnamon: 3, crust: 1 },
  d3: { zebra: 50 },
}
const df: Record<string, number> = { apple: 5, pie: 4, crust: 3, the: 90, x: 1, cinnamon: 2, zebra: 1 }

/** A 100-document collection; records which ids feedback asked for. */
function fakeIndex(requested: string[][] = []): TermStatistics {
  return {
    analyzeQuery: (text) => text.toLowerCase().split(/\s+/).filter(Boolean),
    termCounts: (ids) => {
      requested.push([...ids])
      return new Map(ids.filter((id) => id in documents).map((id) => [id, new Map(Object.entries(documents[id]!))]))
    },
    documentFrequencies: (terms) => new Map(terms.map((term) => [term, df[term] ?? 0])),
    count: () => 100,
  }
}

const close = (t: Test, actual: number | undefined, expected: number, msg: string) =>
  t.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${msg}: ${actual} ~ ${expected}`)

t.test('relevance model and interpolation match the hand computation', async (t) => {
  const requested: string[][] = []
  const expanded = expandQuery(fakeIndex(requested), 'apple pie', [{ id: 'd1', score: 2 }, { id: 'd2', score: 1 }])
  // d1 keeps apple 3, pie 1, crust 2 ('the' is in 90% of documents, 'x' is one character): P = 1/2, 1/6, 1/3, x 2
  // d2: apple 0.2, cinnamon 0.6, crust 0.2, x 1. Sum: apple 1.2, pie 1/3, crust 13/15, cinnamon 0.6 (total 3)
  // Query: apple 0.5, pie 0.5. Mixed 50/50: apple 0.25 + 0.2, pie 0.25 + 1/18, crust 13/90, cinnamon 0.1
  t.same(expanded.map((w) => w.term), ['apple', 'pie', 'crust', 'cinnamon'])
  close(t, expanded[0]!.weight, 0.45, 'apple')
  close(t, expanded[1]!.weight, 0.25 + 1 / 18, 'pie')
  close(t, expanded[2]!.weight, 13 / 90, 'crust')
  close(t, expanded[3]!.weight, 0.1, 'cinnamon')
  close(t, expanded.reduce((sum, w) => sum + w.weight, 0), 1, 'weights sum to 1')
  t.same(requested, [['d1', 'd2']])
})

t.test('expandQueryInSlices gives expandQuery\'s terms and yields after every feedback document (issue 13, finding 4)', async (t) => {
  const feedback = [{ id: 'd1', score: 2 }, { id: 'd2', score: 1 }, { id: 'd3', score: 0.5 }]
  const events: string[] = []
  const index = fakeIndex()
  const watched: TermStatistics = { ...index, documentFrequencies: (terms) => (events.push(`df ${terms.join(',')}`), index.documentFrequencies(terms)) }
  const sliced = await expandQueryInSlices(watched, 'apple pie', feedback, {}, async () => {
    events.push('slice')
  })
  t.same(sliced, expandQuery(fakeIndex(), 'apple pie', feedback), 'same terms and weights')
  t.equal(events.filter((e) => e === 'slice').length, 3, 'one slice per feedback document')
  t.ok(events.indexOf('slice') > 0 && events.indexOf('slice') < events.lastIndexOf('df zebra'), 'the first document\'s lookups come before the first slice, the last document\'s after')
  await t.rejects(expandQueryInSlices(index, 'apple', [{ id: 'd1', score: -1 }], {}, async () => undefined), { code: 'invalid_value' })
})

t.test('feedbackTerms prunes each document and the model; feedbackDocs cuts the ranking', async (t) => {
  const counts = (id: string) => ({ termCounts: new Map(Object.entries(documents[id]!)), score: id === 'd1' ? 2 : 1 })
  const model = estimateRelevanceModel([counts('d1'), counts('d2')], (term) => term !== 'the', 2)
  // d1 top 2: apple 3, crust 2 -> 0.6, 0.4 (x2); d2 top 2: cinnamon 3, apple 1 (tie with crust, by term) -> 0.75, 0.25
  // apple 1.45, crust 0.8, cinnamon 0.75 -> keep apple, crust
  t.same([...model.keys()], ['apple', 'crust'])
  close(t, model.get('apple'), 1.45 / 2.25, 'apple')
  close(t, model.get('crust'), 0.8 / 2.25, 'crust')

  const requested: string[][] = []
  expandQuery(fakeIndex(requested), 'apple', [{ id: 'd1', score: 2 }, { id: 'd2', score: 1 }, { id: 'd3', score: 1 }], { feedbackDocs: 2 })
  t.same(requested, [['d1', 'd2']])
})

t.test('originalQueryWeight 1 keeps the query; unknown ids and empty queries', async (t) => {
  const expanded = expandQuery(fakeIndex(), 'apple apple pie', [{ id: 'd1', score: 2 }], { originalQueryWeight: 1 })
  t.same(expanded.filter((w) => w.weight > 0).map((w) => [w.term, w.weight]), [['apple', 2 / 3], ['pie', 1 / 3]])
  t.same(expandQuery(fakeIndex(), '', [{ id: 'd1', score: 1 }]), [])
  const noFeedback = expandQuery(fakeIndex(), 'apple', [{ id: 'gone', score: 1 }])
  t.same(noFeedback, [{ term: 'apple', weight: 0.5 }], 'no usable feedback: the query alone')
  t.same(interpolateWithQuery(['a'], new Map([['b', 1]]), 0), [{ term: 'b', weight: 1 }, { term: 'a', weight: 0 }])
})

t.test('invalid options and scores throw', async (t) => {
  const feedback = [{ id: 'd1', score: 1 }]
  t.throws(() => expandQuery(fakeIndex(), 'apple', feedback, { feedbackDocs: 0 }), { code: 'invalid_value' })
  t.throws(() => expandQuery(fakeIndex(), 'apple', feedback, { feedbackTerms: 1.5 }), { code: 'invalid_value' })
  t.throws(() => expandQuery(fakeIndex(), 'apple', feedback, { originalQueryWeight: 2 }), { code: 'invalid_value' })
  t.throws(() => expandQuery(fakeIndex(), 'apple', [{ id: 'd1', score: -1 }]), { code: 'invalid_value' })
})

t.test('end to end on Bm25Index: expansion retrieves a document without the query terms', async (t) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  const index = new Bm25Index(db, 'bakery', { lowercase: true, stemming: 'porter', stopwords: 'english' })
  index.upsert([
    { id: 'p1', text: 'Apple pie with a flaky butter crust and cinnamon' },
    { id: 'p2', text: 'Apple pie recipe: cinnamon, butter, crust' },
    { id: 'p3', text: 'Butter crust baking with cinnamon sugar' },
    { id: 'p4', text: 'Stock market report for technology shares' },
  ])
  const query = 'apple pie'
  const first = index.search(query, 10)
  t.same(first.map((hit) => hit.id).sort(), ['p1', 'p2'])
  const expanded = expandQuery(index, query, first, { maxDocumentFrequencyRatio: 1 })
  t.ok(expanded.some((w) => w.term === 'cinnamon'), 'cinnamon is an expansion term')
  const second = index.searchTerms(expanded, 10)
  t.same(second.slice(0, 2).map((hit) => hit.id).sort(), ['p1', 'p2'], 'the original hits stay on top')
  t.equal(second[2]?.id, 'p3', 'p3 is found through expansion terms')
  t.notOk(second.some((hit) => hit.id === 'p4'))
})

t.test('a long feedback document costs df lookups for the terms its top-k walk reaches, not its whole vocabulary (issue 13, finding 4)', async (t) => {
  // 40,000 distinct terms, as in a 1 MB document; the ten most frequent are in half the collection.
  const big = new Map(Array.from({ length: 40_000 }, (_, i) => [`term${i.toString(36)}`, i < 10 ? 1000 - i : 1 + (i % 7)]))
  const looked: string[] = []
  const index: TermStatistics = {
    analyzeQuery: (text) => text.split(' '),
    termCounts: (ids) => new Map(ids.map((id) => [id, big])),
    documentFrequencies: (terms) => {
      looked.push(...terms)
      return new Map(terms.map((term) => [term, big.get(term)! >= 990 ? 50 : 1]))
    },
    count: () => 100,
  }
  const expanded = expandQuery(index, 'query', [{ id: 'big', score: 1 }], { feedbackTerms: 10 })
  t.ok(looked.length <= 20, `${looked.length} df lookups for 40,000 distinct terms`)
  // Reference: the eager filter over the whole vocabulary, then the top ten by tf.
  const eager = [...big].filter(([term]) => big.get(term)! < 990).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10).map(([term]) => term)
  t.same(expanded.filter((w) => w.term !== 'query').map((w) => w.term).sort(), eager.sort(), 'the same ten expansion terms as the eager filter')
})

t.test('a collection too small for any term to pass the df cut-off asks no document frequency at all', async (t) => {
  const looked: string[] = []
  const index: TermStatistics = { ...fakeIndex(), documentFrequencies: (terms) => (looked.push(...terms), new Map(terms.map((term) => [term, 1]))), count: () => 5 }
  const expanded = expandQuery(index, 'apple pie', [{ id: 'd1', score: 2 }, { id: 'd2', score: 1 }])
  t.same(looked, [], '10% of 5 documents is under 1')
  t.same(expanded.map((w) => w.term), ['apple', 'pie'], 'only the query terms remain')
})

t.test('each document\'s top terms are those of a full sort by count then term, with many ties (issue 13, finding 4)', async (t) => {
  // Reference: the full sort the walk replaced.
  const reference = (termCounts: Map<string, number>, keep: (term: string) => boolean, k: number) => {
    const kept = new Map<string, number>()
    for (const [term, tf] of [...termCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      if (kept.size >= k) break
      if (/^[a-z0-9]{2,20}$/.test(term) && keep(term)) kept.set(term, tf)
    }
    return kept
  }
  let state = 42
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648)
  for (let round = 0; round < 20; round++) {
    const termCounts = new Map<string, number>()
    for (let i = 0; i < 2000; i++) termCounts.set(`t${Math.floor(random() * 5000).toString(36)}${i % 3 === 0 ? 'Z' : ''}`, 1 + Math.floor(random() ** 4 * 12))
    const keep = (term: string) => term.charCodeAt(term.length - 1) % 3 !== round % 3
    for (const k of [1, 10, 300]) {
      const expected = reference(termCounts, keep, k)
      const model = estimateRelevanceModel([{ termCounts, score: 1 }], keep, k)
      t.same([...model.keys()].sort(), [...expected.keys()].sort(), `round ${round}, k=${k}: the same ${expected.size} terms`)
    }
  }
})
