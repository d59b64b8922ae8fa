import type { InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'

/**
 * Issue 13, findings 3, 4 (bounds), 8 and 9: every request does bounded work, and a request past a
 * bound is refused with a 4xx whose message names the limit and the setting that raises it.
 */

const SEED = 'river stone cloud engine protein galaxy market violin harbour glacier'.split(' ')

async function setup(t: Test, overrides: Parameters<typeof buildTestApp>[1] = {}): Promise<TestApp> {
  const ctx = await buildTestApp(t, overrides)
  t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c', index: { dims: 8 } } })).statusCode, 201)
  const documents = SEED.map((word, i) => ({ id: `d${i}`, text: `${word} ${SEED[(i + 3) % SEED.length]}` }))
  t.equal((await ctx.app.inject({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })).statusCode, 200)
  return ctx
}

const search = (body: object): InjectOptions => ({ method: 'POST', url: '/v1/collections/c/search', payload: body })
const upsert = (documents: unknown[]): InjectOptions => ({ method: 'PUT', url: '/v1/collections/c/documents', payload: { documents } })
/** Distinct pseudo-words that survive analysis unchanged (no stop words, nothing to stem). */
const distinctWords = (n: number) => Array.from({ length: n }, (_, i) => `zq${i.toString(36)}x`)

t.test('finding 3: a query longer than FUNNEL_MAX_QUERY_CHARS is refused with 400 naming the setting', async (t) => {
  const { app } = await setup(t, { maxQueryChars: 100 })
  const res = await app.inject(search({ query: 'river '.repeat(20), top_k: 3 }))
  t.equal(res.statusCode, 400)
  t.equal(res.json().error.code, 'invalid_request')
  t.match(res.json().error.message, /^body\.query: must NOT have more than 100 characters \(FUNNEL_MAX_QUERY_CHARS\)$/)
  t.equal((await app.inject(search({ query: 'river '.repeat(16), top_k: 3 }))).statusCode, 200, '96 characters are accepted')
})

t.test('finding 3: the default FUNNEL_MAX_QUERY_CHARS refuses a 5 MB query', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject(search({ query: 'word '.repeat(1_000_000), top_k: 3 }))
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /FUNNEL_MAX_QUERY_CHARS/)
})

t.test('finding 3: a query with more distinct terms than FUNNEL_MAX_QUERY_TERMS is refused in every mode that runs BM25', async (t) => {
  const { app } = await setup(t, { maxQueryTerms: 8 })
  for (const mode of ['lexical', 'hybrid']) {
    const res = await app.inject(search({ query: distinctWords(9).join(' '), top_k: 3, mode }))
    t.equal(res.statusCode, 400, `${mode}: 9 distinct terms`)
    t.same(res.json().error, {
      code: 'too_many_query_terms',
      message: 'query: 9 distinct terms after analysis exceeds the maximum of 8 (FUNNEL_MAX_QUERY_TERMS); shorten the query',
    })
  }
  const repeated = await app.inject(search({ query: `${distinctWords(8).join(' ')} ${'river '.repeat(200)}`, top_k: 3, mode: 'lexical' }))
  t.equal(repeated.statusCode, 400, 'a repeated term counts once, but the ninth distinct one is too many')
  const withinLimit = await app.inject(search({ query: `river ${'stone '.repeat(300)}`, top_k: 3, mode: 'lexical' }))
  t.equal(withinLimit.statusCode, 200, 'many repeats of two distinct terms are accepted')
  t.equal(withinLimit.json().results[0].id.startsWith('d'), true)
})

t.test('finding 3: 32,000 distinct terms under the default limits answer 400 at once, not after seconds of FTS5', async (t) => {
  const { app } = await setup(t, { maxQueryChars: 1_000_000 })
  const res = await app.inject(search({ query: distinctWords(32_000).join(' '), top_k: 3, mode: 'lexical' }))
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /^query: 32000 distinct terms after analysis exceeds the maximum of 256 \(FUNNEL_MAX_QUERY_TERMS\)/)
})

t.test('finding 4: a document longer than FUNNEL_MAX_DOCUMENT_CHARS is refused with 400 naming the setting and nothing is stored', async (t) => {
  const { app } = await setup(t, { maxDocumentChars: 1000 })
  const res = await app.inject(upsert([{ id: 'ok', text: 'short' }, { id: 'big', text: 'x'.repeat(1001) }]))
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /^body\.documents\.1\.text: must NOT have more than 1000 characters \(FUNNEL_MAX_DOCUMENT_CHARS\)$/)
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/c/documents/ok' })).statusCode, 404, 'the batch is refused as a whole')
  t.equal((await app.inject(upsert([{ id: 'max', text: 'y'.repeat(1000) }]))).statusCode, 200, '1000 characters are accepted')
})

t.test('finding 4: length limits count UTF-16 code units (O(1), no scan of the text), so an emoji counts twice', async (t) => {
  const { app } = await setup(t, { maxDocumentChars: 1000 })
  const emoji = '\u{1F600}'
  // 501 emoji: 501 code points but 1002 code units; counting code points would have accepted it.
  const res = await app.inject(upsert([{ id: 'emoji', text: emoji.repeat(501) }]))
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /must NOT have more than 1000 characters \(FUNNEL_MAX_DOCUMENT_CHARS\)/)
  t.equal((await app.inject(upsert([{ id: 'emoji', text: emoji.repeat(500) }]))).statusCode, 200, '500 emoji (1000 code units) are accepted')
})

t.test('finding 4: the default FUNNEL_MAX_DOCUMENT_CHARS (65536) refuses a 12 MB document', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject(upsert([{ id: 'huge', text: 'word '.repeat(2_400_000) }]))
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /must NOT have more than 65536 characters \(FUNNEL_MAX_DOCUMENT_CHARS\)/)
})

t.test('finding 4: more documents than FUNNEL_MAX_BATCH_DOCUMENTS are refused with 413 naming the setting', async (t) => {
  const { app } = await setup(t, { maxBatchDocuments: SEED.length })
  const res = await app.inject(upsert(Array.from({ length: SEED.length + 1 }, (_, i) => ({ id: `b${i}`, text: 'x' }))))
  t.equal(res.statusCode, 413)
  t.same(res.json().error, { code: 'batch_too_large', message: 'documents: 11 items exceeds the maximum of 10 per request (FUNNEL_MAX_BATCH_DOCUMENTS)' })
})

t.test('finding 8: a lone surrogate in text is refused with 400 naming the field, not stored as U+FFFD', async (t) => {
  const { app } = await setup(t)
  for (const [i, text] of ['lone \ud800 high', 'lone \udfff low', 'ends with \ud83d'].entries()) {
    const res = await app.inject({
      method: 'PUT',
      url: '/v1/collections/c/documents',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ documents: [{ id: 'fine', text: 'fine' }, { id: `lone${i}`, text }] }),
    })
    t.equal(res.statusCode, 400, JSON.stringify(text))
    t.match(res.json().error, { code: 'invalid_request', message: /^documents\[1\]\.text: must be well-formed Unicode/ })
    t.equal((await app.inject({ method: 'GET', url: `/v1/collections/c/documents/lone${i}` })).statusCode, 404, 'nothing stored')
  }
  const paired = await app.inject(upsert([{ id: 'emoji', text: 'a pair \ud83d\ude00 is fine' }]))
  t.equal(paired.statusCode, 200, 'a well-formed surrogate pair is accepted')
  t.equal((await app.inject({ method: 'GET', url: '/v1/collections/c/documents/emoji' })).json().text, 'a pair \ud83d\ude00 is fine', 'and round-trips')
})

t.test('finding 9: DELETE with content-type application/json and an empty body is accepted', async (t) => {
  const { app } = await setup(t)
  const json = { 'content-type': 'application/json' }
  const doc = await app.inject({ method: 'DELETE', url: '/v1/collections/c/documents/d1', headers: json, payload: '' })
  t.equal(doc.statusCode, 200, doc.body)
  t.same(doc.json(), { acknowledged: true, id: 'd1' })
  const collection = await app.inject({ method: 'DELETE', url: '/v1/collections/c', headers: json })
  t.equal(collection.statusCode, 200, collection.body)
  const post = await app.inject({ method: 'POST', url: '/v1/collections', headers: json, payload: '' })
  t.equal(post.statusCode, 400, 'a POST with an empty JSON body is still refused')
  t.equal(post.json().error.code, 'invalid_request')
})

t.test('finding 9: an unknown rerank model is refused before retrieval, even when nothing would be reranked', async (t) => {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'empty', index: { dims: 8 } } })).statusCode, 201)
  for (const model of ['../../etc', 'no-such/reranker']) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/collections/empty/search',
      payload: { query: 'anything', top_k: 3, rerank: { stages: [{ model, top_n: 5 }] } },
    })
    t.equal(res.statusCode, 400, `${model}: ${res.body}`)
    t.equal(res.json().error.code, 'unknown_model')
    t.match(res.json().error.message, new RegExp(`^model '${model.replace(/[./]/g, '\\$&')}' is not known; known models: `))
  }
})
