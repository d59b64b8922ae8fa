import t from 'tap'
import { l2Normalize } from '../../src/retrieval/vector-math.js'
import { TEST_MODEL, buildTestApp } from '../helpers/app.js'
import { readGolden, type EmbedderGolden } from '../helpers/fixture-models.js'

t.test('POST /v1/embeddings answers in the OpenAI shape with golden vectors', async (t) => {
  const { app } = await buildTestApp(t)
  const golden = readGolden('tiny-bert-mean') as EmbedderGolden
  const texts = golden.cases.map((c) => c.text)
  const res = await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: texts, model: TEST_MODEL } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.object, 'list')
  t.equal(body.model, TEST_MODEL)
  t.equal(body.data.length, texts.length)
  t.same(body.truncated, [5], 'the 130+ token text is reported as truncated')
  t.equal(body.usage.prompt_tokens, golden.cases.reduce((n, c) => n + c.ids.length, 0))
  body.data.forEach((d: { index: number; embedding: number[]; object: string }, i: number) => {
    t.equal(d.index, i)
    const expected = golden.cases[i]!.normalized
    t.ok(expected.every((v, j) => Math.abs(v - d.embedding[j]!) < 1e-4), `embedding ${i} matches golden`)
  })

  const one = (await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: texts[1], dimensions: 4 } })).json()
  const expected4 = Array.from(l2Normalize(Float32Array.from(golden.cases[1]!.normalized.slice(0, 4))))
  t.ok(one.data[0].embedding.every((v: number, j: number) => Math.abs(v - expected4[j]!) < 1e-4), 'dimensions truncates and renormalises')

  const b64 = (await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: texts[1], encoding_format: 'base64' } })).json()
  const bytes = Buffer.from(b64.data[0].embedding, 'base64')
  const decoded = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
  t.ok(Math.abs(decoded[0]! - golden.cases[1]!.normalized[0]!) < 1e-4, 'base64 is little-endian float32')
})

t.test('embeddings bad input', async (t) => {
  const { app } = await buildTestApp(t, { maxEmbeddingInputs: 2 })
  const cases: [object, number, string, RegExp][] = [
    [{ input: [] }, 400, 'invalid_request', /body\.input/],
    [{ input: '  ' }, 400, 'invalid_value', /^input:/],
    [{ input: ['a', 'b', 'c'] }, 413, 'batch_too_large', /input: 3 items exceeds the maximum of 2/],
    [{ input: 'a', dimensions: 99 }, 400, 'unsupported_dimensions', /dimensions: 99 .* 1\.\.16/],
    [{ input: 'a', model: 'nope/nope' }, 400, 'unknown_model', /'nope\/nope' is not known/],
    [{ input: 'a', encoding_format: 'hex' }, 400, 'invalid_request', /encoding_format/],
    [{ input: 7 }, 400, 'invalid_request', /body\.input/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/embeddings', payload })
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
  }
})
