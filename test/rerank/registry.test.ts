import t from 'tap'
import { CrossEncoderReranker } from '../../src/rerank/cross-encoder.js'
import { createReranker, LoadedRerankers, rerankerFactories, rerankerKind, rerankerKinds } from '../../src/rerank/registry.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

t.test('the registry is frozen and lists its kinds', async (t) => {
  t.same(rerankerKinds, ['cross-encoder', 'embedding', 'listwise-onnx', 'listwise-llama-cpp', 'listwise-remote', 'pointwise-llama-cpp'])
  t.ok(Object.isFrozen(rerankerFactories))
  t.ok(Object.isFrozen(rerankerKinds))
  t.equal(rerankerKind('listwise-onnx'), 'listwise-onnx')
  t.throws(() => rerankerKind('colbert'), {
    code: 'unknown_reranker',
    statusCode: 400,
    message: "reranker 'colbert' is not known; known rerankers: 'cross-encoder', 'embedding', 'listwise-onnx', 'listwise-llama-cpp', 'listwise-remote', 'pointwise-llama-cpp'",
  })
  await t.rejects(createReranker('colbert' as 'cross-encoder', { modelDir: '.' }), { code: 'unknown_reranker' })
})

t.test('createReranker builds the kind asked for', async (t) => {
  const ce = await createReranker('cross-encoder', { modelDir: await fixtureModelDir('tiny-cross-encoder'), name: 'ce' })
  t.teardown(() => ce.dispose())
  t.type(ce, CrossEncoderReranker)
  t.equal(ce.name, 'ce')
})

t.test('LoadedRerankers looks rerankers up by name and disposes them all', async (t) => {
  let disposed = 0
  const stub = (name: string) => ({
    name,
    scoreKey: 'cross_encoder' as const,
    rank: async () => ({ candidates: [], truncatedPassages: 0 }),
    dispose: async () => void disposed++,
  })
  const loaded = new LoadedRerankers([stub('a'), stub('b')])
  t.same(loaded.names, ['a', 'b'])
  t.equal(loaded.get('b').name, 'b')
  t.throws(() => loaded.get('c'), { code: 'unknown_reranker', message: "reranker 'c' is not known; known rerankers: 'a', 'b'" })
  t.throws(() => loaded.add(stub('a')), /a reranker named 'a' is already loaded/)
  await loaded.dispose()
  t.equal(disposed, 2)
  t.same(loaded.names, [])
})
