import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'

/**
 * Hostile and malformed input against every public route. Each case states the one answer it expects:
 * a 2xx (checked further by `verify` where it matters) or a 4xx with the catalogue's
 * `{ error: { code, message } }`, its code and what the message must name (usually the field) — never a
 * 5xx — and the server must keep answering: a search runs after every case. Cases that currently fail
 * are marked `todo` with the reason, so the suite stays green while the bug is open.
 */

/**
 * The answer a case expects: a success, or a refusal with its error code and what its message must
 * match (a pattern, or a string it contains).
 */
type Expected = { status: 200 } | { status: 400 | 404 | 413 | 414 | 415; code: string; message: RegExp | string }

const ok: Expected = { status: 200 }
const refused = (status: 400 | 404 | 413 | 414 | 415, code: string, message: RegExp | string): Expected => ({ status, code, message })

/** Schema validation's answer: 400 invalid_request naming the field (`body.top_k`, `params.name`). */
const invalid = (message: RegExp | string) => refused(400, 'invalid_request', message)
const malformedJson = refused(400, 'malformed_json', /^Body is not valid JSON/)
const unsupportedMediaType = refused(415, 'unsupported_media_type', /^Unsupported Media Type/)
const collectionNamePattern = (where: 'body' | 'params') => invalid(new RegExp(`^${where}\\.name: must match pattern`))
const noRoute = (path: string) => refused(404, 'route_not_found', `no route for GET ${path}`)
const documentNotFound = (id: string) => refused(404, 'document_not_found', `document '${id}' does not exist in collection 'c'`)

interface HostileCase {
  name: string
  request: InjectOptions
  expect: Expected
  /** Extra checks on a 2xx answer (round trips, truncation flags). */
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

/** A search answered with `n` hits (a filter no document satisfies: none). */
const hits = (n: number) => (t: Test, res: LightMyRequestResponse) => {
  t.equal(res.json().results.length, n, `${n} hits`)
}

/** An embeddings request answered with `n` vectors. */
const embeddings = (n: number) => (t: Test, res: LightMyRequestResponse) => {
  t.equal(res.json().data.length, n, `${n} embeddings`)
}

const FIVE_MB_QUERY = 'word '.repeat(1_000_000)
const thousandFields = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`field${i}`, i]))

const deepNesting: HostileCase[] = [
  {
    name: 'metadata nested 10,000 objects deep',
    request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"deep-o","text":"deep","metadata":${nestedObject(10_000)}}]}`),
    expect: refused(400, 'invalid_value', /^documents\[0\]\.metadata: .*may nest at most 32 levels/),
  },
  {
    name: 'metadata holding arrays nested 10,000 deep',
    request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"deep-a","text":"deep","metadata":{"x":${nestedArray(10_000)}}}]}`),
    expect: refused(400, 'invalid_value', /^documents\[0\]\.metadata: .*may nest at most 32 levels/),
  },
  {
    name: 'unknown field nested 10,000 deep in an upsert',
    request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"x","text":"x"}],"extra":${nestedObject(10_000)}}`),
    expect: invalid('body.extra: is not a known field'),
  },
  { name: 'unknown field nested 10,000 deep in a search', request: raw('POST', `${COLLECTION}/search`, `{"query":"x","top_k":1,"extra":${nestedObject(10_000)}}`), expect: invalid('body.extra: is not a known field') },
  { name: 'unknown field nested 10,000 deep in a create', request: raw('POST', '/v1/collections', `{"name":"deep","extra":${nestedObject(10_000)}}`), expect: invalid('body.extra: is not a known field') },
  { name: 'unknown field nested 10,000 deep in a document', request: raw('PUT', `${COLLECTION}/documents`, `{"documents":[{"id":"x","text":"x","extra":${nestedObject(10_000)}}]}`), expect: invalid('body.documents.0.extra: is not a known field') },
  { name: 'embeddings input as arrays nested 10,000 deep', request: raw('POST', '/v1/embeddings', `{"input":${nestedArray(10_000)}}`), expect: invalid('body.input: must be string') },
  { name: 'filter value nested 10,000 deep', request: raw('POST', `${COLLECTION}/search`, `{"query":"x","top_k":1,"filter":{"a":${nestedObject(10_000)}}}`), expect: invalid('filter.a: values must be a string, number, boolean or null; got object') },
  {
    name: 'index settings nested 10,000 deep',
    request: raw('POST', '/v1/collections', `{"name":"deep","index":${nestedObject(10_000)}}`),
    expect: invalid('body.index.d: is not a known field'),
  },
]

const hugeStrings: HostileCase[] = [
  // Past FUNNEL_MAX_QUERY_CHARS (issue 13, finding 3); before that limit it was embedded, truncated, and OR-ed as BM25 terms.
  { name: 'a 5 MB query (1,000,000 words) under the body limit', request: search({ query: FIVE_MB_QUERY, top_k: 3 }), expect: invalid(/^body\.query: must NOT have more than 4096 characters \(FUNNEL_MAX_QUERY_CHARS\)/) },
  { name: 'a 5 MB single-word embeddings input', request: post('/v1/embeddings', { input: 'a'.repeat(5_000_000) }), expect: ok, verify: embeddings(1) },
  { name: 'a 5 MB document id', request: upsert([{ id: 'i'.repeat(5_000_000), text: 'x' }]), expect: invalid('body.documents.0.id: must NOT have more than 512 characters') },
  { name: 'a 5 MB collection name', request: post('/v1/collections', { name: 'n'.repeat(5_000_000) }), expect: collectionNamePattern('body') },
  {
    name: 'a 5 MB metadata key',
    request: upsert([{ id: 'bigkey', text: 'big key', metadata: { ['k'.repeat(5_000_000)]: 1 } }]),
    expect: ok,
    verify: async (t, _res, app) => {
      const res = await app.inject(get(`${COLLECTION}/documents/bigkey`))
      t.same(Object.keys(res.json().metadata).map((k) => k.length), [5_000_000], 'the key is stored whole')
    },
  },
  { name: 'a 5 MB model name', request: post('/v1/embeddings', { input: 'x', model: 'm'.repeat(5_000_000) }), expect: refused(400, 'unknown_model', /^model 'm+' is not known/) },
  { name: 'a body over the 16 MB limit', request: raw('POST', `${COLLECTION}/search`, JSON.stringify({ query: 'q'.repeat(17 * 1024 * 1024), top_k: 1 })), expect: refused(413, 'payload_too_large', 'Request body is too large') },
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
  // Invalid bytes become U+FFFD when the body is decoded, before the JSON parser sees it.
  { name: 'invalid UTF-8 bytes inside JSON strings', request: raw('PUT', `${COLLECTION}/documents`, invalidUtf8Body), expect: ok, verify: roundTrips('bad-\uFFFD\uFFFD') },
  { name: 'invalid UTF-8 bytes between JSON tokens', request: raw('POST', `${COLLECTION}/search`, Buffer.concat([Buffer.from('{"query":"x",'), Buffer.from([0xff]), Buffer.from('"top_k":1}')])), expect: malformedJson },
  { name: 'a body cut inside a multi-byte character', request: raw('POST', `${COLLECTION}/search`, Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xe2, 0x82])])), expect: malformedJson },
  { name: 'a UTF-16LE body', request: raw('POST', `${COLLECTION}/search`, Buffer.from('{"query":"x","top_k":1}', 'utf16le')), expect: malformedJson },
  {
    name: 'NUL bytes in id, text and metadata',
    request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"nul\\u0000id","text":"nul \\u0000 text","metadata":{"k":"v\\u0000"}}]}'),
    expect: ok,
    verify: roundTrips('nul\u0000id', 'nul \u0000 text'),
  },
  { name: 'a NUL byte in the query', request: raw('POST', `${COLLECTION}/search`, '{"query":"\\u0000river\\u0000","top_k":2}'), expect: ok, verify: hits(2) },
  { name: 'a NUL byte in the collection name', request: post('/v1/collections', { name: 'a\u0000b' }), expect: collectionNamePattern('body') },
  { name: 'a NUL byte in a path segment', request: get(`${COLLECTION}/documents/%00`), expect: documentNotFound('\u0000') },
  {
    name: 'a NUL byte in a filter field name',
    request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"filter":{"k\\u0000":"v"}}'),
    expect: refused(400, 'invalid_value', /^filter: "k\\u0000" is not allowed; field names may not contain a double quote, backslash or NUL/),
  },
  { name: 'lone surrogates in the query', request: raw('POST', `${COLLECTION}/search`, '{"query":"\\ud800 river \\udfff","top_k":2}'), expect: ok, verify: hits(2) },
  { name: 'lone surrogates in embeddings input', request: raw('POST', '/v1/embeddings', '{"input":["\\udbff","x\\udc00"]}'), expect: ok, verify: embeddings(2) },
  { name: 'a lone surrogate in the collection name', request: raw('POST', '/v1/collections', '{"name":"a\\ud800"}'), expect: collectionNamePattern('body') },
  {
    name: 'a lone surrogate in a document id',
    request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"lone\\ud800","text":"lone surrogate"}]}'),
    expect: refused(400, 'invalid_value', /^documents\[0\]\.id: .*ids must be well-formed Unicode/),
  },
  // Issue 13, finding 8: the text was acknowledged and stored with U+FFFD in place of the surrogate.
  { name: 'a lone surrogate in document text', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"lone-text","text":"lone \\udc00 surrogate"}]}'), expect: invalid(/^documents\[0\]\.text: must be well-formed Unicode/) },
  { name: 'an encoded surrogate in a path segment', request: get(`${COLLECTION}/documents/%ED%A0%80`), expect: invalid("'/v1/collections/c/documents/%ED%A0%80' is not a valid url component") },
  { name: 'a broken percent-encoding in a path segment', request: get(`${COLLECTION}/documents/%E0%A4%A`), expect: invalid("'/v1/collections/c/documents/%E0%A4%A' is not a valid url component") },
]

const traversal: HostileCase[] = [
  { name: 'collection name ..%2F..%2Fetc', request: get('/v1/collections/..%2F..%2Fetc'), expect: collectionNamePattern('params') },
  { name: 'collection name ..%2F..%2Fetc with a document path', request: get('/v1/collections/..%2F..%2Fetc/documents/passwd'), expect: collectionNamePattern('params') },
  { name: 'collection name %2e%2e', request: get('/v1/collections/%2e%2e'), expect: noRoute('/v1/') },
  { name: 'collection name with an encoded backslash', request: get('/v1/collections/..%5C..%5Cwindows'), expect: collectionNamePattern('params') },
  { name: 'search on an encoded traversal', request: post('/v1/collections/c%2F..%2F..%2Fsecret/search', { query: 'x', top_k: 1 }), expect: collectionNamePattern('params') },
  { name: 'delete an encoded traversal collection', request: { method: 'DELETE', url: '/v1/collections/..%2Fc' }, expect: collectionNamePattern('params') },
  { name: 'create a collection named ../../etc', request: post('/v1/collections', { name: '../../etc' }), expect: collectionNamePattern('body') },
  { name: 'create a collection named .hidden', request: post('/v1/collections', { name: '.hidden' }), expect: collectionNamePattern('body') },
  { name: 'document id ..%2F..%2Fetc%2Fpasswd', request: get(`${COLLECTION}/documents/..%2F..%2Fetc%2Fpasswd`), expect: documentNotFound('../../etc/passwd') },
  { name: 'document id %2e%2e', request: get(`${COLLECTION}/documents/%2e%2e`), expect: noRoute('/v1/collections/c/') },
  { name: 'delete document ..%2F..%2Findexes%2Fc.hnsw', request: { method: 'DELETE', url: `${COLLECTION}/documents/..%2F..%2Findexes%2Fc.hnsw` }, expect: documentNotFound('../../indexes/c.hnsw') },
  {
    name: 'a document whose id is a traversal path is plain data',
    request: upsert([{ id: '../../etc/passwd', text: 'just an id' }]),
    expect: ok,
    verify: roundTrips('../../etc/passwd', 'just an id'),
  },
  { name: 'an unencoded traversal the router normalises away', request: get('/v1/collections/c/documents/../../../etc/passwd'), expect: noRoute('/v1/etc/passwd') },
]

const prototypePollution: HostileCase[] = [
  { name: '__proto__ in metadata', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"p1","text":"x","metadata":{"__proto__":{"polluted":true}}}]}'), expect: malformedJson },
  { name: 'constructor.prototype in metadata', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"p2","text":"x","metadata":{"constructor":{"prototype":{"polluted":true}}}}]}'), expect: malformedJson },
  { name: '__proto__ deep in metadata', request: raw('PUT', `${COLLECTION}/documents`, '{"documents":[{"id":"p3","text":"x","metadata":{"a":{"b":{"__proto__":{"polluted":true}}}}}]}'), expect: malformedJson },
  { name: '__proto__ in a filter', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"filter":{"__proto__":{"polluted":true}}}'), expect: malformedJson },
  { name: 'constructor in a filter', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"filter":{"constructor":{"prototype":{"polluted":true}}}}'), expect: malformedJson },
  { name: '__proto__ at the top of a search body', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1,"__proto__":{"top_k":1000}}'), expect: malformedJson },
  { name: '__proto__ in index settings', request: raw('POST', '/v1/collections', '{"name":"proto","index":{"__proto__":{"dims":1}}}'), expect: malformedJson },
  {
    name: 'Object.prototype member names as metadata keys',
    request: upsert([{ id: 'p4', text: 'prototype names', metadata: { toString: 'x', hasOwnProperty: 1, valueOf: true, prototype: null } }]),
    expect: ok,
    verify: async (t, _res, app) => {
      const res = await app.inject(get(`${COLLECTION}/documents/p4`))
      t.same(res.json().metadata, { toString: 'x', hasOwnProperty: 1, valueOf: true, prototype: null }, 'stored as plain data')
    },
  },
  {
    name: 'Object.prototype member names as filter fields',
    request: search({ query: 'x', top_k: 5, filter: { toString: 'x', hasOwnProperty: 1 } }),
    expect: ok,
    verify: (t, res) => {
      t.same(res.json().results.map((r: { id: string }) => r.id), ['p4'], 'matches only the document that has them')
    },
  },
]

const wrongTypes: HostileCase[] = [
  { name: 'top_k as a string', request: search({ query: 'x', top_k: '5' }), expect: invalid('body.top_k: must be integer') },
  { name: 'oversample as a string', request: search({ query: 'x', top_k: 1, oversample: '4' }), expect: invalid('body.oversample: must be integer') },
  { name: 'index.dims as a string', request: post('/v1/collections', { name: 'strdims', index: { dims: '8' } }), expect: invalid('body.index.dims: must be integer') },
  { name: 'dimensions as a string', request: post('/v1/embeddings', { input: 'x', dimensions: '8' }), expect: invalid('body.dimensions: must be integer') },
  { name: 'top_k as 1e309 (Infinity once parsed)', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1e309}'), expect: invalid('body.top_k: must be integer') },
  { name: 'top_k as 1e21', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1e21}'), expect: refused(400, 'invalid_value', /^top_k: 1e\+21 is not allowed; use 1\.\.1000/) },
  { name: 'top_k as -0', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":-0}'), expect: invalid('body.top_k: must be >= 1') },
  { name: 'top_k as true', request: search({ query: 'x', top_k: true }), expect: invalid('body.top_k: must be integer') },
  { name: 'query as a number', request: search({ query: 42, top_k: 1 }), expect: invalid('body.query: must be string') },
  { name: 'document id as a number', request: upsert([{ id: 7, text: 'x' }]), expect: invalid('body.documents.0.id: must be string') },
  { name: 'metadata as a string', request: upsert([{ id: 'm', text: 'x', metadata: '{"a":1}' }]), expect: invalid('body.documents.0.metadata: must be object') },
  { name: 'metadata as null', request: upsert([{ id: 'm', text: 'x', metadata: null }]), expect: invalid('body.documents.0.metadata: must be object') },
  { name: 'include with an unknown field', request: search({ query: 'x', top_k: 1, include: ['vector'] }), expect: invalid('body.include.0: must be equal to one of the allowed values; allowed: "text", "metadata", "scores"') },
  { name: 'include with 100,000 entries', request: search({ query: 'x', top_k: 1, include: Array.from({ length: 100_000 }, () => 'text') }), expect: invalid(/^body\.include: must NOT have duplicate items/) },
  { name: 'encoding_format as an unknown value', request: post('/v1/embeddings', { input: 'x', encoding_format: 'int8' }), expect: invalid('body.encoding_format: must be equal to one of the allowed values; allowed: "float", "base64"') },
]

const contentTypes: HostileCase[] = [
  { name: 'text/plain body', request: raw('POST', `${COLLECTION}/search`, '{"query":"x","top_k":1}', { 'content-type': 'text/plain' }), expect: invalid('body: must be object') },
  { name: 'form-urlencoded body', request: raw('POST', `${COLLECTION}/search`, 'query=x&top_k=1', { 'content-type': 'application/x-www-form-urlencoded' }), expect: unsupportedMediaType },
  { name: 'multipart body', request: raw('POST', `${COLLECTION}/search`, '--b\r\n\r\n--b--', { 'content-type': 'multipart/form-data; boundary=b' }), expect: unsupportedMediaType },
  { name: 'application/xml body', request: raw('PUT', `${COLLECTION}/documents`, '<documents/>', { 'content-type': 'application/xml' }), expect: unsupportedMediaType },
  { name: 'content type application/jsonx', request: raw('POST', '/v1/embeddings', '{"input":"x"}', { 'content-type': 'application/jsonx' }), expect: unsupportedMediaType },
  { name: 'a garbage content-type header', request: raw('POST', '/v1/embeddings', '{"input":"x"}', { 'content-type': ';;;=' }), expect: unsupportedMediaType },
  { name: 'JSON body with charset=utf-16', request: raw('POST', '/v1/embeddings', '{"input":"x"}', { 'content-type': 'application/json; charset=utf-16' }), expect: ok, verify: embeddings(1) },
  { name: 'JSON body without a content type', request: { method: 'POST', url: '/v1/embeddings', payload: '{"input":"x"}' }, expect: unsupportedMediaType },
]

const emptyBodies: HostileCase[] = [
  { name: 'empty JSON body on search', request: raw('POST', `${COLLECTION}/search`, ''), expect: invalid("Body cannot be empty when content-type is set to 'application/json'") },
  { name: 'no body and no content type on search', request: { method: 'POST', url: `${COLLECTION}/search` }, expect: invalid('body: must be object') },
  { name: 'empty JSON body on upsert', request: raw('PUT', `${COLLECTION}/documents`, ''), expect: invalid("Body cannot be empty when content-type is set to 'application/json'") },
  { name: 'body null on create', request: raw('POST', '/v1/collections', 'null'), expect: invalid('body: must be object') },
  { name: 'body "" on embeddings', request: raw('POST', '/v1/embeddings', '""'), expect: invalid('body: must be object') },
  { name: 'whitespace-only body', request: raw('POST', '/v1/embeddings', '   \n\t '), expect: malformedJson },
  { name: 'truncated JSON', request: raw('POST', '/v1/embeddings', '{"input":'), expect: malformedJson },
  { name: 'two JSON documents in one body', request: raw('POST', '/v1/embeddings', '{"input":"x"}{"input":"y"}'), expect: malformedJson },
  { name: 'an empty documents array', request: upsert([]), expect: invalid('body.documents: must NOT have fewer than 1 items') },
  { name: 'empty query', request: search({ query: '', top_k: 1 }), expect: invalid('body.query: must NOT have fewer than 1 characters') },
]

const arraysForObjects: HostileCase[] = [
  { name: 'search body as an array', request: search([{ query: 'x', top_k: 1 }]), expect: invalid('body: must be object') },
  { name: 'upsert body as an array', request: put(`${COLLECTION}/documents`, [{ id: 'x', text: 'x' }]), expect: invalid('body: must be object') },
  { name: 'a document as an array', request: upsert([['x', 'x']]), expect: invalid('body.documents.0: must be object') },
  { name: 'documents as an object', request: put(`${COLLECTION}/documents`, { documents: { id: 'x', text: 'x' } }), expect: invalid('body.documents: must be array') },
  { name: 'metadata as an array', request: upsert([{ id: 'x', text: 'x', metadata: [1, 2] }]), expect: invalid('body.documents.0.metadata: must be object') },
  { name: 'filter as an array', request: search({ query: 'x', top_k: 1, filter: [['a', 1]] }), expect: invalid('body.filter: must be object') },
  { name: 'filter value as an array', request: search({ query: 'x', top_k: 1, filter: { a: [1] } }), expect: invalid('filter.a: values must be a string, number, boolean or null; got an array') },
  { name: 'filter value as an object', request: search({ query: 'x', top_k: 1, filter: { a: { $ne: 1 } } }), expect: invalid('filter.a: values must be a string, number, boolean or null; got object') },
  { name: 'index settings as an array', request: post('/v1/collections', { name: 'arr', index: [8] }), expect: invalid('body.index: must be object') },
  { name: 'create body as an array', request: post('/v1/collections', [{ name: 'arr' }]), expect: invalid('body: must be object') },
]

const longId = (n: number) => 'L'.repeat(n)
const longIds: HostileCase[] = [
  { name: 'a 513-character id', request: upsert([{ id: longId(513), text: 'x' }]), expect: invalid('body.documents.0.id: must NOT have more than 512 characters') },
  {
    name: 'a 512-character id is stored and found by search',
    request: upsert([{ id: longId(512), text: 'max id', metadata: { longest: true } }]),
    expect: ok,
    verify: async (t, _res, app) => {
      const res = await app.inject(search({ query: 'max id', top_k: 1, filter: { longest: true } }))
      t.same(res.json().results.map((r: { id: string }) => r.id), [longId(512)], 'the full id comes back in results')
    },
  },
  {
    name: 'a 512-character id is fetched back',
    request: get(`${COLLECTION}/documents/${longId(512)}`),
    expect: ok,
  },
  { name: 'a 101-character id is fetched back', request: get(`${COLLECTION}/documents/${longId(101)}`), expect: documentNotFound(longId(101)) },
  { name: 'a 600-character id in the path', request: get(`${COLLECTION}/documents/${longId(600)}`), expect: invalid('params.id: must NOT have more than 512 characters') },
  { name: 'a 65-character collection name', request: get(`/v1/collections/${'n'.repeat(65)}`), expect: collectionNamePattern('params') },
  { name: 'a 10,000-character collection name in the path', request: get(`/v1/collections/${'n'.repeat(10_000)}`), expect: refused(414, 'uri_too_long', /^'\/v1\/collections\/n+'/) },
]

const filters: HostileCase[] = [
  { name: 'a filter with 1000 fields', request: search({ query: 'x', top_k: 1, filter: thousandFields }), expect: invalid('body.filter: must NOT have more than 32 properties') },
  { name: 'an empty filter', request: search({ query: 'x', top_k: 1, filter: {} }), expect: ok, verify: hits(1) },
  { name: 'a filter field containing a double quote', request: search({ query: 'x', top_k: 1, filter: { 'a"b': 1 } }), expect: refused(400, 'invalid_value', 'filter: "a\\"b" is not allowed; field names may not contain a double quote, backslash or NUL') },
  { name: 'a filter field with dots, brackets and $', request: search({ query: 'x', top_k: 1, filter: { 'a.b': 1, 'c[0]': 2, $: 3, '#': 4, "it's": 5, 'back\\slash': 6 } }), expect: refused(400, 'invalid_value', 'filter: "back\\\\slash" is not allowed') },
  // Field names are checked for quotes, backslashes and NUL only: a name no document has matches nothing.
  { name: 'an empty filter field name', request: search({ query: 'x', top_k: 1, filter: { '': 1 } }), expect: ok, verify: hits(0) },
  { name: 'a filter field of 100,000 characters', request: search({ query: 'x', top_k: 1, filter: { ['f'.repeat(100_000)]: 1 } }), expect: ok, verify: hits(0) },
  { name: 'a filter value of 5 MB', request: search({ query: 'x', top_k: 1, filter: { a: 'v'.repeat(5_000_000) } }), expect: ok, verify: hits(0) },
  { name: 'a SQL injection attempt in a filter field', request: search({ query: 'x', top_k: 1, filter: { "a') OR 1=1 --": 1, 'a" OR 1=1 --': 2 } }), expect: refused(400, 'invalid_value', /^filter: "a\\" OR 1=1 --" is not allowed/) },
]

const limits: HostileCase[] = [
  { name: '1001 documents in one upsert', request: upsert(Array.from({ length: 1001 }, (_, i) => ({ id: `b${i}`, text: 'x' }))), expect: refused(413, 'batch_too_large', 'documents: 1001 items exceeds the maximum of 1000 per request (FUNNEL_MAX_BATCH_DOCUMENTS)') },
  // 400 as OpenAI answers it: SDKs retry a 413 no more than a 400, but 400 is what their users expect.
  { name: '257 embeddings inputs', request: post('/v1/embeddings', { input: Array.from({ length: 257 }, () => 'x') }), expect: refused(400, 'too_many_inputs', 'input: 257 items exceeds the maximum of 256 per request (FUNNEL_MAX_EMBEDDING_INPUTS)') },
  { name: 'duplicate ids in one batch', request: upsert([{ id: 'dup', text: 'a' }, { id: 'dup', text: 'b' }]), expect: refused(400, 'invalid_value', /^documents\[1\]\.id: "dup" is not allowed; ids must be unique within one batch/) },
  { name: 'top_k 1000 with oversample 100', request: search({ query: 'river', top_k: 1000, oversample: 100 }), expect: ok },
  { name: 'dimensions above the model dims', request: search({ query: 'x', top_k: 1, dimensions: 1_000_000 }), expect: refused(400, 'unsupported_dimensions', /^dimensions: 1000000 is not supported/) },
  { name: 'index dims 2^53', request: post('/v1/collections', { name: 'bigdims', index: { dims: 2 ** 53 } }), expect: refused(400, 'unsupported_dimensions', /^index\.dims: 9007199254740992 is not supported/) },
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
          t.equal(res.statusCode, c.expect.status, `answers ${c.expect.status} (got ${res.statusCode} in ${ms} ms)`)
          if (c.slow !== undefined) t.ok(ms <= c.slow.maxMs, `answered within ${c.slow.maxMs} ms (took ${ms} ms)`, c.slow.todo === undefined ? {} : { todo: c.slow.todo })
          if ('code' in c.expect) {
            const body = safeJson(res.body) as { error?: { code?: unknown; message?: unknown } }
            t.match(body, { error: { code: String, message: String } }, 'error body is { error: { code, message } }')
            t.equal(body.error?.code, c.expect.code, `error code ${c.expect.code}`)
            t.match(body.error?.message, c.expect.message, 'the message names what was wrong')
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
