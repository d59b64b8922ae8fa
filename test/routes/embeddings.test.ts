import t from 'tap'
import { checkDimensions } from '../../src/pipeline/collections.js'
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
    [{ input: [] }, 400, 'invalid_request', /^input: must contain at least one string$/],
    [{ input: [101, 2023, 102] }, 400, 'invalid_request', /^input: token ids are not supported; pass text/],
    [{ input: [[101, 2023], [101, 102]] }, 400, 'invalid_request', /^input: token ids are not supported; pass text/],
    [{ input: '  ' }, 400, 'invalid_value', /^input:/],
    [{ input: ['a', 'b', 'c'] }, 400, 'too_many_inputs', /^input: 3 items exceeds the maximum of 2 per request \(FUNNEL_MAX_EMBEDDING_INPUTS\)$/],
    [{ input: 'a', dimensions: 99 }, 400, 'unsupported_dimensions', /^dimensions: 99 is not supported; use 1\.\.16 \(the model has 16 dimensions\)$/],
    [{ input: 'a', model: 'nope/nope' }, 400, 'unknown_model', /'nope\/nope' is not known; known models: 'test\/tiny-bert-mean' on this server; .*'sentence-transformers\/all-MiniLM-L6-v2'.* after npm run models:pull/],
    [{ input: 'a', encoding_format: 'hex' }, 400, 'invalid_request', /encoding_format/],
    [{ input: 7 }, 400, 'invalid_request', /body\.input/],
    [{ input: ['a', 7] }, 400, 'invalid_request', /body\.input/],
  ]
  for (const [payload, status, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/embeddings', payload })
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.equal(res.json().error.code, code, JSON.stringify(payload))
    t.match(res.json().error.message, message, JSON.stringify(payload))
  }
  const atLimit = await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: ['a', 'b'] } })
  t.equal(atLimit.statusCode, 200, 'exactly the limit is accepted')
})

t.test('a model listed in the manifest but not pulled is a 400 naming the models that are here, never a retried 503', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: 'a', model: 'sentence-transformers/all-MiniLM-L6-v2' } })
  t.equal(res.statusCode, 400)
  t.notOk(res.headers['retry-after'], 'nothing to retry')
  t.equal(res.json().error.code, 'model_not_pulled')
  t.match(res.json().error.message, /^model 'sentence-transformers\/all-MiniLM-L6-v2' is listed but its files are not on this server; run npm run models:pull -- sentence-transformers\/all-MiniLM-L6-v2, or use one that is: 'test\/tiny-bert-mean'$/)
  const unbuilt = await app.inject({ method: 'POST', url: '/v1/embeddings', payload: { input: 'a', model: 'funnel/glove-6b-100d-static' } })
  t.equal(unbuilt.statusCode, 400, 'the default static model, not built and FUNNEL_BUILD_DEFAULT_MODEL off')
  t.equal(unbuilt.json().error.code, 'model_not_pulled')
  t.match(unbuilt.json().error.message, /run npm run models:build-default/)
})

t.test('dimensions: one message listing the supported dimensions, whether too large or not in the list', (t) => {
  const matryoshka = [100, 50, 25, 12]
  for (const requested of [1000, 32]) {
    t.throws(() => checkDimensions('dimensions', requested, 100, matryoshka), {
      code: 'unsupported_dimensions',
      message: `dimensions: ${requested} is not supported; supported dimensions: 100, 50, 25, 12`,
    })
  }
  t.throws(() => checkDimensions('dimensions', 999, 768, [512, 256]), { message: 'dimensions: 999 is not supported; supported dimensions: 768, 512, 256' }, 'the full size is always supported')
  t.doesNotThrow(() => checkDimensions('dimensions', 768, 768, [512, 256]))
  t.doesNotThrow(() => checkDimensions('dimensions', 25, 100, matryoshka))
  t.throws(() => checkDimensions('dimensions', 17, 16, []), { message: 'dimensions: 17 is not supported; use 1..16 (the model has 16 dimensions)' })
  t.doesNotThrow(() => checkDimensions('dimensions', 3, 16, []), 'without declared Matryoshka dims any 1..dims')
  t.end()
})
