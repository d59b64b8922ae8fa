import t from 'tap'
import { metadataTerms } from '../../src/store/weaviate/metadata-terms.js'
import { dataClassName, documentUuid } from '../../src/store/weaviate/weaviate-names.js'
import { isRetryable, parseWeaviateUrls } from '../../src/store/weaviate/weaviate-nodes.js'
import { RESOLUTION, weightedQuery } from '../../src/store/weaviate/weighted-query.js'

// The pure parts of the Weaviate backend: how Funnel's names, metadata and weighted terms map onto
// Weaviate's. The behaviour against a server is in weaviate-backend.test.ts.

t.test('class names: valid Weaviate names, one to one, case kept apart', async (t) => {
  const names = ['books', 'Books', 'BOOKS', 'my-books', 'my_books', 'a1-B_2', '0day', 'x'.repeat(64)]
  const classes = names.map((name) => dataClassName('Funnel', name))
  for (const name of classes) t.match(name, /^[A-Z][_0-9A-Za-z]*$/)
  t.equal(new Set(classes.map((c) => c.toLowerCase())).size, names.length, 'distinct even compared case-insensitively')
  t.equal(dataClassName('Funnel', 'my-Books'), 'Funnel_my_1_books')
})

t.test('document UUIDs are deterministic per (collection, id)', async (t) => {
  t.equal(documentUuid('books', 'a'), documentUuid('books', 'a'))
  t.not(documentUuid('books', 'a'), documentUuid('Books', 'a'))
  t.not(documentUuid('books', 'a,b'), documentUuid('books,a', 'b'))
  t.match(documentUuid('books', 'a'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
})

t.test('metadata terms: one per top-level scalar, the JSON type part of the term', async (t) => {
  t.same(metadataTerms({ year: 2020, y: '2020', tags: ['a'], draft: null, ok: true, o: { a: 1 } }), ['["year",2020]', '["y","2020"]', '["draft",null]', '["ok",true]'])
  t.same(metadataTerms(null), [])
  t.same(metadataTerms({ ' padded ': ' x ' }), ['[" padded "," x "]'], 'field tokenization trims, but a JSON array starts and ends with brackets')
})

t.test('weighted terms become repetitions, scaled back', async (t) => {
  const { query, scale } = weightedQuery([
    { term: 'cat', weight: 0.6 },
    { term: 'dog', weight: 0.3 },
    { term: 'cat', weight: 0.2 },
    { term: 'tiny', weight: 0.0001 },
  ])
  const counts = new Map<string, number>()
  for (const term of query.split(' ')) counts.set(term, (counts.get(term) ?? 0) + 1)
  t.same(Object.fromEntries(counts), { cat: RESOLUTION, dog: Math.round((0.3 / 0.8) * RESOLUTION) })
  t.ok(Math.abs(scale * RESOLUTION - 0.8) < 1e-12)
  t.same(weightedQuery([]), { query: '', scale: 1 })
  t.throws(() => weightedQuery([{ term: 'a', weight: -1 }]), { code: 'invalid_value' })
  t.throws(() => weightedQuery([{ term: 'a', weight: Number.NaN }]), { code: 'invalid_value' })
})

t.test('FUNNEL_WEAVIATE_URLS', async (t) => {
  t.same(parseWeaviateUrls('http://127.0.0.1:8080?grpc=50051, https://w.example'), [
    { url: 'http://127.0.0.1:8080', host: '127.0.0.1', httpPort: 8080, secure: false, grpcPort: 50051 },
    { url: 'https://w.example', host: 'w.example', httpPort: 443, secure: true, grpcPort: 50051 },
  ])
  t.throws(() => parseWeaviateUrls(''), /FUNNEL_WEAVIATE_URLS/)
  t.throws(() => parseWeaviateUrls('ftp://x'), /http:\/\//)
  t.throws(() => parseWeaviateUrls('http://x?grpc=abc'), /grpc/)
})

t.test('retryable errors: node loss and leader elections, not bad requests', async (t) => {
  t.ok(isRetryable(new Error('/weaviate.v1.Weaviate/Search UNAVAILABLE: No connection established')))
  t.ok(isRetryable(new Error('fetch failed')))
  t.ok(isRetryable(new Error('cannot achieve consistency level "QUORUM": read repair')))
  t.notOk(isRetryable(new Error('invalid property "x"')))
})
