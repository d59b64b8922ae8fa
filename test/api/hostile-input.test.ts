import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'

/**
 * Hostile and malformed input against every public route. Each case must end in a 4xx carrying the
 * catalogue's `{ error: { code, message } }` (or a correct 2xx) — never a 5xx — and the server must
 * keep answering: a search runs after every case. Cases that currently fail are marked `todo` with the
 * reason, so the suite stays green while the bug is open.
 */

interface HostileCase {
  name: string
  request: InjectOptions
  /** Statuses that count as correct; by default any 2xx or 4xx. */
  allowed?: number[]
  /** Extra checks on a correct answer (round trips, truncation flags). */
  verify?: (t: Test, res: LightMyRequestResponse, app: TestApp['app']) => Promise<void> | void
  /** Set while the server mishandles the case: the reason, with the observed behaviour. */
  todo?: string
  /** A latency the answer should meet, checked as a todo assertion while it does not. */
  slow?: { maxMs: number; todo?: string }
}

const COLLECTION = '/v1/collections/c'
const JSON_TYPE = { 'content-type': 'application/json' }

/** A JSON text nesting `leaf` `depth` levels deep, built as a string: JSON.stringify itself overflows. */
const nestedObject = (depth: number, leaf = '1') => '{"d":'.repeat(depth) + leaf + '}'.repeat(depth)
const nestedArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

const raw = (method: InjectOptions['method'], url: string, payload: string | Buffer, headers: Record<string, string> = JSON_TYPE): InjectOptions => ({
  method,
  url,
  headers,
  payload,
})
const post = (url: string, payload: unknown): InjectOptions => ({ method: 'POST', url, payload: payload as InjectOptions['payload'] })
const put = (url: string, payload: unknown): InjectOptions => ({ method: 'PUT', url, payload: payload as InjectOptions['payload'] })
const get = (url: string): InjectOptions => ({ method: 'GET', url })
const search = (body: unknown) => post(`${COLLECTION}/search`, body)
const upsert = (documents: unknown) => put(`${COLLECTION}/documents`, { documents })

/** GET the document back by the id it was written with and compare. */
const roundTrips = (id: string, text?: string) => async (t: Test, _res: LightMyRequestResponse, app: TestApp['app']) => {
  const res = await app.inject(get(`${COLLECTION}/documents/${encodeURIComponent(id)}`))
  t.equal(res.statusCode, 200, `document ${JSON.stringify(id.slice(0, 40))} is fetched back by its id`)
  if (res.statusCode === 200) {
    t.equal(res.json().id, id, 'the id round-trips unchanged')
    if (text !== undefined) t.equal(res.json().text, text, 'the text round-trips unchanged')
  }
}

const FIVE_MB_QUERY = 'word '.repeat(1_000_000)
const thousandFields = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`field${i}`, i]))

const deepNesting: HostileCase[] = [
  {
    name: 'metadata nested 10,000 objects deep',
    request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"deep-o","text":"deep","metadata":${nestedObject(10_000)}}]}`),
    allowed: [400],
  },
  {
    name: 'metadata holding arrays nested 10,000 deep',
    request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"deep-a","text":"deep","metadata":{"x":${nestedArray(10_000)}}}]}`),
    allowed: [400],
  },
  {
    name: 'unknown field nested 10,000 deep in an upsert',
    request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"x","text":"x"}],"extra":${nestedObject(10_000)}}`),
    allowed: [400],
  },
  { name: 'unknown field nested 10,000 deep in a search', request: raw('POST', `${COLLECTION}/search`, `{"query":"x","top_k":1,"extra":${nestedObject(10_000)}}`), allowed: [400] },
  { name: 'unknown field nested 10,000 deep in a create', request: raw('POST', '/v1/collections', `{"name":"deep","extra":${nestedObject(10_000)}}`), allowed: [400] },
  { name: 'unknown field nested 10,000 deep in a document', request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"x","text":"x","extra":${nestedObject(10_000)}}]}`), allowed: [400] },
  { name: 'embeddings input as arrays nested 10,000 deep', request: raw('POST', '/v1/embeddings', `{"input":${nestedArray(10_000)}}`), allowed: [400] },
  { name: 'filter value nested 10,000 deep', request: raw('POST', `${COLLECTION}/search`, `{"query":"x","top_k":1,"filter":{"a":${nestedObject(10_000)}}}`), allowed: [400] },
  {
    name: 'index settings nested 10,000 deep',
    request: raw('POST', '/v1/collections', `{"name":"deep","index":${nestedObject(10_000)}}`),
    allowed: [400],
  },
]

const hugeStrings: HostileCase[] = [
  // Past FUNNEL_MAX_QUERY_CHARS (issue 13, finding 3); before that limit it was embedded, truncated, and OR-ed as BM25 terms.
  { name: 'a 5 MB query (1,000,000 words) under the body limit', request: search({ query: FIVE_MB_QUERY, top_k: 3 }), allowed: [400] },
  { name: 'a 5 MB single-word embeddings input', request: post('/v1/embeddings', { input: 'a'.repeat(5_000_000) }), allowed: [200] },
  { name: 'a 5 MB document id', request: upsert([{ id: 'i'.repeat(5_000_000), text: 'x' }]), allowed: [400] },
  { name: 'a 5 MB collection name', request: post('/v1/collections', { name: 'n'.repeat(5_000_000) }), allowed: [400] },
  { name: 'a 5 MB metadata key', request: upsert([{ id: 'bigkey', text: 'big key', metadata: { ['k'.repeat(5_000_000)]: 1 } }]), allowed: [200, 400, 413] },
  { name: 'a 5 MB model name', request: post('/v1/embeddings', { input: 'x', model: 'm'.repeat(5_000_000) }), allowed: [400] },
  { name: 'a body over the 16 MB limit', request: raw('POST', `${COLLECTION}/search`, JSON.stringify({ query: 'q'.repeat(17 * 1024 * 1024), top_k: 1 })), allowed: [413] },
]

// 0xff/0xfe never occur in UTF-8; 0xc3 0x28 is a broken two-byte sequence; 0xed 0xa0 0x80 encodes a surrogate.
const invalidUtf8Body = Buffer.concat([
  Buffer.from('{"documents":[{"id":"bad-'),
  Buffer.from([0xff, 0xfe]),
  Buffer.from('","text":"broken '),
  Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80]),
  Buffer.from('"}]}'),
])

const encoding: HostileCase[] = [
  { name: 'invalid UTF-8 bytes inside JSON strings', request: raw('PUT', `${COLLECTION}/documents`, invalidUtf8Body), allowed: [200, 400] },
  { name: 'invalid UTF-8 bytes between JSON tokens', request: raw('POST', `${COLLECTION}/search`, Buffer.concat([Buffer.from('{"query":"x",'), Buffer.from([0xff]), Buffer.from('"top_k":1}')])), allowed: [400] },
  { name: 'a body cut inside a multi-byte character', request: raw('POST', `${COLLECTION}/search`, Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xe2, 0x82])])), allowed: [400] },
  { name: 'a UTF-16LE body', request: raw('POST', `${COLLECTION}/search`, Buffer.from('{"query":"x","top_k":1}', 'utf16le')), allowed: [400] },
  {
    name: 'NUL bytes in id, text and metadata',
    request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"nul\\u0000id","text":"nul \\u0000 text","metadata":{"k":"v\\u0000"}}]}'),
    allowed: [200, 400],
    verify: async (t, res, app) => {
      if (res.statusCode === 200) await roundTrips('nul\u0000id', 'nul \u0000 text')(t, res, app)
    },
  },
  { name: 'a NUL byte in the query', request: raw('POST', `${COLLECTION}/search`, '{"query":"\\u0000river\\u0000","top_k":2}'), allowed: [200] },
  { name: 'a NUL byte in the collection name', request: post('/v1/collections', { name: 'a\u0000b' }), allowed: [400] },
  { name: 'a NUL byte in a path segment', request: get(`${COLLECTION}/documents/%00`), allowed: [400, 404] },
  {
    name: 'a NUL byte in a filter field name',
    request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"filter":{"k\\u0000":"v"}}'),
    allowed: [400],
  },
  { name: 'lone surrogates in the query', request: raw('POST', `${COLLECTION}/search`, '{"query":"\\ud800 river \\udfff","top_k":2}'), allowed: [200] },
  { name: 'lone surrogates in embeddings input', request: raw('POST', '/v1/embeddings', '{"input":["\\udbff","x\\udc00"]}'), allowed: [200, 400] },
  { name: 'a lone surrogate in the collection name', request: raw('POST', '/v1/collections', '{"name":"a\\ud800"}'), allowed: [400] },
  {
    name: 'a lone surrogate in a document id',
    request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"lone\\ud800","text":"lone surrogate"}]}'),
    allowed: [400],
  },
  // Issue 13, finding 8: the text was acknowledged and stored with U+FFFD in place of the surrogate.
  { name: 'a lone surrogate in document text', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"lone-text","text":"lone \\udc00 surrogate"}]}'), allowed: [400] },
  { name: 'an encoded surrogate in a path segment', request: get(`${COLLECTION}/documents/%ED%A0%80`), allowed: [400, 404] },
  { name: 'a broken percent-encoding in a path segment', request: get(`${COLLECTION}/documents/%E0%A4%A`), allowed: [400, 404] },
]

const traversal: HostileCase[] = [
  { name: 'collection name ..%2F..%2Fetc', request: get('/v1/collections/..%2F..%2Fetc'), allowed: [400, 404] },
  { name: 'collection name ..%2F..%2Fetc with a document path', request: get('/v1/collections/..%2F..%2Fetc/documents/passwd'), allowed: [400, 404] },
  { name: 'collection name %2e%2e', request: get('/v1/collections/%2e%2e'), allowed: [400, 404] },
  { name: 'collection name with an encoded backslash', request: get('/v1/collections/..%5C..%5Cwindows'), allowed: [400, 404] },
  { name: 'search on an encoded traversal', request: post('/v1/collections/c%2F..%2F..%2Fsecret/search', { query: 'x', top_k: 1 }), allowed: [400, 404] },
  { name: 'delete an encoded traversal collection', request: { method: 'DELETE', url: '/v1/collections/..%2Fc' }, allowed: [400, 404] },
  { name: 'create a collection named ../../etc', request: post('/v1/collections', { name: '../../etc' }), allowed: [400] },
  { name: 'create a collection named .hidden', request: post('/v1/collections', { name: '.hidden' }), allowed: [400] },
  { name: 'document id ..%2F..%2Fetc%2Fpasswd', request: get(`${COLLECTION}/documents/..%2F..%2Fetc%2Fpasswd`), allowed: [404] },
  { name: 'document id %2e%2e', request: get(`${COLLECTION}/documents/%2e%2e`), allowed: [404] },
  { name: 'delete document ..%2F..%2Findexes%2Fc.hnsw', request: { method: 'DELETE', url: `${COLLECTION}/documents/..%2F..%2Findexes%2Fc.hnsw` }, allowed: [404] },
  {
    name: 'a document whose id is a traversal path is plain data',
    request: upsert([{ id: '../../etc/passwd', text: 'just an id' }]),
    allowed: [200],
    verify: roundTrips('../../etc/passwd', 'just an id'),
  },
  { name: 'an unencoded traversal the router normalises away', request: get('/v1/collections/c/documents/../../../etc/passwd'), allowed: [400, 404] },
]

const prototypePollution: HostileCase[] = [
  { name: '__proto__ in metadata', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"p1","text":"x","metadata":{"__proto__":{"polluted":true}}}]}'), allowed: [400] },
  { name: 'constructor.prototype in metadata', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"p2","text":"x","metadata":{"constructor":{"prototype":{"polluted":true}}}}]}'), allowed: [400] },
  { name: '__proto__ deep in metadata', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"p3","text":"x","metadata":{"a":{"b":{"__proto__":{"polluted":true}}}}}]}'), allowed: [400] },
  { name: '__proto__ in a filter', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"filter":{"__proto__":{"polluted":true}}}'), allowed: [400] },
  { name: 'constructor in a filter', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"filter":{"constructor":{"prototype":{"polluted":true}}}}'), allowed: [400] },
  { name: '__proto__ at the top of a search body', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"__proto__":{"top_k":1000}}'), allowed: [400] },
  { name: '__proto__ in index settings', request: raw('POST', '/v1/collections', '{"name":"proto","index":{"__proto__":{"dims":1}}}'), allowed: [400] },
  {
    name: 'Object.prototype member names as metadata keys',
    request: upsert([{ id: 'p4', text: 'prototype names', metadata: { toString: 'x', hasOwnProperty: 1, valueOf: true, prototype: null } }]),
    allowed: [200],
    verify: async (t, _res, app) => {
      const res = await app.inject(get(`${COLLECTION}/documents/p4`))
      t.same(res.json().metadata, { toString: 'x', hasOwnProperty: 1, valueOf: true, prototype: null }, 'stored as plain data')
    },
  },
  {
    name: 'Object.prototype member names as filter fields',
    request: search({ query: 'x', top_k: 5, filter: { toString: 'x', hasOwnProperty: 1 } }),
    allowed: [200],
    verify: (t, res) => {
      t.same(res.json().results.map((r: { id: string }) => r.id), ['p4'], 'matches only the document that has them')
    },
  },
]

const wrongTypes: HostileCase[] = [
  { name: 'top_k as a string', request: search({ query: 'x', top_k: '5' }), allowed: [400] },
  { name: 'oversample as a string', request: search({ query: 'x', top_k: 1, oversample: '4' }), allowed: [400] },
  { name: 'index.dims as a string', request: post('/v1/collections', { name: 'strdims', index: { dims: '8' } }), allowed: [400] },
  { name: 'dimensions as a string', request: post('/v1/embeddings', { input: 'x', dimensions: '8' }), allowed: [400] },
  { name: 'top_k as 1e309 (Infinity once parsed)', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1e309}'), allowed: [400] },
  { name: 'top_k as 1e21', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1e21}'), allowed: [400] },
  { name: 'top_k as -0', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":-0}'), allowed: [400] },
  { name: 'top_k as true', request: search({ query: 'x', top_k: true }), allowed: [400] },
  { name: 'query as a number', request: search({ query: 42, top_k: 1 }), allowed: [400] },
  { name: 'document id as a number', request: upsert([{ id: 7, text: 'x' }]), allowed: [400] },
  { name: 'metadata as a string', request: upsert([{ id: 'm', text: 'x', metadata: '{"a":1}' }]), allowed: [400] },
  { name: 'metadata as null', request: upsert([{ id: 'm', text: 'x', metadata: null }]), allowed: [400] },
  { name: 'include with an unknown field', request: search({ query: 'x', top_k: 1, include: ['vector'] }), allowed: [400] },
  { name: 'include with 100,000 entries', request: search({ query: 'x', top_k: 1, include: Array.from({ length: 100_000 }, () => 'text') }), allowed: [400] },
  { name: 'encoding_format as an unknown value', request: post('/v1/embeddings', { input: 'x', encoding_format: 'int8' }), allowed: [400] },
]

const contentTypes: HostileCase[] = [
  { name: 'text/plain body', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1}', { 'content-type': 'text/plain' }), allowed: [400, 415] },
  { name: 'form-urlencoded body', request: raw('POST', `${COLLECTION}/search`, 'query=x&top_k=1', { 'content-type': 'application/x-www-form-urlencoded' }), allowed: [415] },
  { name: 'multipart body', request: raw('POST', `${COLLECTION}/search`, '--b\r\n\r\n--b--', { 'content-type': 'multipart/form-data; boundary=b' }), allowed: [415] },
  { name: 'application/xml body', request: raw('PUT', `${COLLECTION}/documents`, '<documents/>', { 'content-type': 'application/xml' }), allowed: [415] },
  { name: 'content type application/jsonx', request: raw('POST', '/v1/embeddings', '{"input":"x"}', { 'content-type': 'application/jsonx' }), allowed: [415] },
  { name: 'a garbage content-type header', request: raw('POST', '/v1/embeddings', '{"input":"x"}', { 'content-type': ';;;=' }), allowed: [400, 415] },
  { name: 'JSON body with charset=utf-16', request: raw('POST', '/v1/embeddings', '{"input":"x"}', { 'content-type': 'application/json; charset=utf-16' }), allowed: [200, 400, 415] },
  { name: 'JSON body without a content type', request: { method: 'POST', url: '/v1/embeddings', payload: '{"input":"x"}' }, allowed: [400, 415] },
]

const emptyBodies: HostileCase[] = [
  { name: 'empty JSON body on search', request: raw('POST', `${COLLECTION}/search`, ''), allowed: [400] },
  { name: 'no body and no content type on search', request: { method: 'POST', url: `${COLLECTION}/search` }, allowed: [400, 415] },
  { name: 'empty JSON body on upsert', request: raw('PUT', `${COLLECTION}/documents`, ''), allowed: [400] },
  { name: 'body null on create', request: raw('POST', '/v1/collections', 'null'), allowed: [400] },
  { name: 'body "" on embeddings', request: raw('POST', '/v1/embeddings', '""'), allowed: [400] },
  { name: 'whitespace-only body', request: raw('POST', '/v1/embeddings', '   \n\t '), allowed: [400] },
  { name: 'truncated JSON', request: raw('POST', '/v1/embeddings', '{"input":'), allowed: [400] },
  { name: 'two JSON documents in one body', request: raw('POST', '/v1/embeddings', '{"input":"x"}{"input":"y"}'), allowed: [400] },
  { name: 'an empty documents array', request: upsert([]), allowed: [400] },
  { name: 'empty query', request: search({ query: '', top_k: 1 }), allowed: [400] },
]

const arraysForObjects: HostileCase[] = [
  { name: 'search body as an array', request: search([{ query: 'x', top_k: 1 }]), allowed: [400] },
  { name: 'upsert body as an array', request: put(`${COLLECTION}/documents`, [{ id: 'x', text: 'x' }]), allowed: [400] },
  { name: 'a document as an array', request: upsert([['x', 'x']]), allowed: [400] },
  { name: 'documents as an object', request: put(`${COLLECTION}/documents`, { documents: { id: 'x', text: 'x' } }), allowed: [400] },
  { name: 'metadata as an array', request: upsert([{ id: 'x', text: 'x', metadata: [1, 2] }]), allowed: [400] },
  { name: 'filter as an array', request: search({ query: 'x', top_k: 1, filter: [['a', 1]] }), allowed: [400] },
  { name: 'filter value as an array', request: search({ query: 'x', top_k: 1, filter: { a: [1] } }), allowed: [400] },
  { name: 'filter value as an object', request: search({ query: 'x', top_k: 1, filter: { a: { $ne: 1 } } }), allowed: [400] },
  { name: 'index settings as an array', request: post('/v1/collections', { name: 'arr', index: [8] }), allowed: [400] },
  { name: 'create body as an array', request: post('/v1/collections', [{ name: 'arr' }]), allowed: [400] },
]

const longId = (n: number) => 'L'.repeat(n)
const longIds: HostileCase[] = [
  { name: 'a 513-character id', request: upsert([{ id: longId(513), text: 'x' }]), allowed: [400] },
  {
    name: 'a 512-character id is stored and found by search',
    request: upsert([{ id: longId(512), text: 'max id', metadata: { longest: true } }]),
    allowed: [200],
    verify: async (t, _res, app) => {
      const res = await app.inject(search({ query: 'max id', top_k: 1, filter: { longest: true } }))
      t.same(res.json().results.map((r: { id: string }) => r.id), [longId(512)], 'the full id comes back in results')
    },
  },
  {
    name: 'a 512-character id is fetched back',
    request: get(`${COLLECTION}/documents/${longId(512)}`),
    allowed: [200],
  },
  { name: 'a 101-character id is fetched back', request: get(`${COLLECTION}/documents/${longId(101)}`), allowed: [404] },
  { name: 'a 600-character id in the path', request: get(`${COLLECTION}/documents/${longId(600)}`), allowed: [400, 404, 414] },
  { name: 'a 65-character collection name', request: get(`/v1/collections/${'n'.repeat(65)}`), allowed: [400] },
  { name: 'a 10,000-character collection name in the path', request: get(`/v1/collections/${'n'.repeat(10_000)}`), allowed: [400, 404, 414] },
]

const filters: HostileCase[] = [
  { name: 'a filter with 1000 fields', request: search({ query: 'x', top_k: 1, filter: thousandFields }), allowed: [400] },
  { name: 'an empty filter', request: search({ query: 'x', top_k: 1, filter: {} }), allowed: [200, 400] },
  { name: 'a filter field containing a double quote', request: search({ query: 'x', top_k: 1, filter: { 'a"b': 1 } }), allowed: [400] },
  { name: 'a filter field with dots, brackets and $', request: search({ query: 'x', top_k: 1, filter: { 'a.b': 1, 'c[0]': 2, $: 3, '#': 4, "it's": 5, 'back\\slash': 6 } }), allowed: [400] },
  { name: 'an empty filter field name', request: search({ query: 'x', top_k: 1, filter: { '': 1 } }), allowed: [200, 400] },
  { name: 'a filter field of 100,000 characters', request: search({ query: 'x', top_k: 1, filter: { ['f'.repeat(100_000)]: 1 } }), allowed: [200, 400] },
  { name: 'a filter value of 5 MB', request: search({ query: 'x', top_k: 1, filter: { a: 'v'.repeat(5_000_000) } }), allowed: [200, 400] },
  { name: 'a SQL injection attempt in a filter field', request: search({ query: 'x', top_k: 1, filter: { "a') OR 1=1 --": 1, 'a" OR 1=1 --': 2 } }), allowed: [400] },
]

const limits: HostileCase[] = [
  { name: '1001 documents in one upsert', request: upsert(Array.from({ length: 1001 }, (_, i) => ({ id: `b${i}`, text: 'x' }))), allowed: [413] },
  // 400 as OpenAI answers it: SDKs retry a 413 no more than a 400, but 400 is what their users expect.
  { name: '257 embeddings inputs', request: post('/v1/embeddings', { input: Array.from({ length: 257 }, () => 'x') }), allowed: [400] },
  { name: 'duplicate ids in one batch', request: upsert([{ id: 'dup', text: 'a' }, { id: 'dup', text: 'b' }]), allowed: [400] },
  { name: 'top_k 1000 with oversample 100', request: search({ query: 'river', top_k: 1000, oversample: 100 }), allowed: [200] },
  { name: 'dimensions above the model dims', request: search({ query: 'x', top_k: 1, dimensions: 1_000_000 }), allowed: [400] },
  { name: 'index dims 2^53', request: post('/v1/collections', { name: 'bigdims', index: { dims: 2 ** 53 } }), allowed: [400] },
]

const groups: Record<string, HostileCase[]> = {
  'deeply nested JSON': deepNesting,
  'huge strings': hugeStrings,
  'encodings, NUL bytes and lone surrogates': encoding,
  'path traversal': traversal,
  'prototype pollution': prototypePollution,
  'wrong types': wrongTypes,
  'content types': contentTypes,
  'empty bodies': emptyBodies,
  'arrays where objects are expected': arraysForObjects,
  'long ids and names': longIds,
  filters,
  limits,
}

const SEED = 'river stone cloud engine protein galaxy market violin harbour glacier'.split(' ')

t.test('hostile input never yields a 5xx and the server keeps serving', async (t) => {
  // Load shedding is off: a case that stalls the event loop must not turn the cases after it into 503s.
  const { app } = await buildTestApp(t, { shedMaxEventLoopDelayMs: 0 })
  t.equal((await app.inject(post('/v1/collections', { name: 'c', index: { dims: 8 } }))).statusCode, 201)
  const seed = SEED.map((word, i) => ({ id: `seed${i}`, text: `${word} ${SEED[(i + 3) % SEED.length]}`, metadata: { i } }))
  t.equal((await app.inject(upsert(seed))).statusCode, 200)

  const stillServing = async (t: Test) => {
    const res = await app.inject(search({ query: 'river stone', top_k: 3 }))
    t.equal(res.statusCode, 200, 'a search afterwards works')
    t.ok(res.json().results?.length > 0, 'and finds documents')
  }

  let count = 0
  for (const [group, cases] of Object.entries(groups)) {
    await t.test(group, async (t) => {
      for (const c of cases) {
        count++
        await t.test(c.name, c.todo === undefined ? {} : { todo: c.todo }, async (t) => {
          const started = performance.now()
          const res = await app.inject(c.request)
          const ms = Math.round(performance.now() - started)
          t.ok(res.statusCode < 500, `no 5xx (got ${res.statusCode} in ${ms} ms)`)
          if (c.slow !== undefined) t.ok(ms <= c.slow.maxMs, `answered within ${c.slow.maxMs} ms (took ${ms} ms)`, c.slow.todo === undefined ? {} : { todo: c.slow.todo })
          if (c.allowed !== undefined) t.ok(c.allowed.includes(res.statusCode), `status ${res.statusCode} is one of ${c.allowed.join(', ')}`)
          if (res.statusCode >= 400) {
            const body = safeJson(res.body)
            t.match(body, { error: { code: String, message: String } }, 'error body is { error: { code, message } }')
          } else if (c.verify !== undefined) {
            await c.verify(t, res, app)
          }
          await stillServing(t)
        })
      }
    })
  }

  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was not polluted')
  t.comment(`${count} hostile cases run (${Object.values(groups).flat().filter((c) => c.todo !== undefined).length} marked todo)`)
})

t.test('metadata nested past SQLite\'s JSON depth is refused at ingestion, so filtered search keeps working', async (t) => {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject(post('/v1/collections', { name: 'p', index: { dims: 8 } }))).statusCode, 201)
  t.equal((await app.inject(put('/v1/collections/p/documents', { documents: [{ id: 'ok', text: 'plain', metadata: { k: 1 } }] }))).statusCode, 200)
  const res = await app.inject(raw('PUT', '/v1/collections/p/documents', `{"documents":[{"id":"deep","text":"deep","metadata":{"x":${nestedArray(1001)}}}]}`))
  t.equal(res.statusCode, 400, 'the deep document is refused')
  t.match(res.json().error.message, /metadata may nest at most 32 levels/)
  const filtered = await app.inject(post('/v1/collections/p/search', { query: 'plain', top_k: 1, filter: { k: 1 } }))
  t.equal(filtered.statusCode, 200, 'a filtered search on the collection still works')
})

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body)
  } catch {
    return body
  }
}
