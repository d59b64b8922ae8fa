import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { OnnxSession, padToTensor, tensorToFloat32 } from '../../src/inference/onnx.js'
import { ensureDefaultModel } from '../../src/inference/static-model/ensure-default-model.js'
import { buildGloveStaticModel, isReachableWord, sifWeights, STATIC_MODEL_FILES, type BuildProgress } from '../../src/inference/static-model/glove-builder.js'
import { encodeOnnxModel } from '../../src/inference/static-model/onnx-writer.js'
import { covariance, principalAxes, rotateRows, symmetricEigen } from '../../src/inference/static-model/pca.js'
import { TextTokenizer } from '../../src/inference/tokenizer.js'

/** The subtest type (with tap's plugins such as testdir), as passed to a t.test callback. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0]

// ---- A tiny source in wink-embeddings' format: 50 words in frequency order, 8-d vectors. ----

const DIMS = 8
const SIF_A = 0.01
/** Frequency order. 'well-known' (split by the pre-tokenizer) and 'Upper' (lowercased) can never be produced. */
const WORDS = [
  'the', ',', '.', 'of', '"', 'and', 'to', 'in', 'king', 'queen', 'well-known', 'man', 'woman', 'carrot', 'potato',
  'city', 'river', 'music', 'dance', 'song', 'bread', 'water', 'stone', 'house', 'road', 'green', 'blue', 'horse',
  'cat', 'dog', 'Upper', 'apple', 'winter', 'summer', 'night', 'light', 'ship', 'sea', 'moon', 'star', 'book',
  'paper', 'glass', 'iron', 'gold', 'salt', 'rain', 'snow', 'fire', 'well',
]
const UNREACHABLE = new Set(['well-known', 'Upper'])
const VOCAB = WORDS.filter((w) => !UNREACHABLE.has(w))
const idOf = (word: string) => (VOCAB.includes(word) ? 2 + VOCAB.indexOf(word) : 1)

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Anisotropic Gaussian vectors (scales 3 .. 0.3 along a random basis) with a non-zero mean, rounded like wink's. */
function syntheticVectors(): Map<string, number[]> {
  const random = mulberry32(7)
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const basis: number[][] = []
  while (basis.length < DIMS) {
    const v = Array.from({ length: DIMS }, gaussian)
    for (const b of basis) {
      const d = dot(v, b)
      v.forEach((_, i) => (v[i]! -= d * b[i]!))
    }
    basis.push(scale(v, 1 / Math.hypot(...v)))
  }
  const scales = [3, 2.5, 2, 1.6, 1.2, 0.9, 0.6, 0.3]
  const vectors = new Map<string, number[]>()
  for (const word of WORDS) {
    const z = scales.map((s) => s * gaussian())
    vectors.set(word, Array.from({ length: DIMS }, (_, i) => Number((0.4 + basis.reduce((sum, b, k) => sum + z[k]! * b[i]!, 0)).toFixed(6))))
  }
  vectors.get('city')![3] = 4e-7 // exponent notation, as in the real file
  vectors.get('river')![5] = -1.5e-7
  return vectors
}

/** wink's layout; vectors are written in reverse frequency order to show the reader keys rows by their index. */
function winkJson(vectors: Map<string, number[]>): string {
  const entries = [...WORDS].reverse().map((w) => {
    const v = vectors.get(w)!
    return `${JSON.stringify(w)}:${JSON.stringify([...v, Number(Math.hypot(...v).toFixed(8)), WORDS.indexOf(w)])}`
  })
  const header = { precision: 6, l2NormIndex: DIMS, wordIndex: DIMS + 1, size: WORDS.length, dimensions: DIMS, words: WORDS }
  return `${JSON.stringify(header).slice(0, -1)},"vectors":{${entries.join(',')}},"unkVector":${JSON.stringify(new Array(DIMS + 2).fill(0))}}`
}

// ---- Independent reference maths (plain arrays, float64, power iteration instead of Jacobi). ----

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0)
const scale = (a: number[], s: number) => a.map((x) => x * s)
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a))
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b) / (norm(a) * norm(b))

/** Eigenpairs of a symmetric PSD matrix by power iteration with deflation; each vector's largest component positive. */
function powerIterationEigen(matrix: number[][]): { values: number[]; vectors: number[][] } {
  const m = matrix.map((row) => [...row])
  const values: number[] = []
  const vectors: number[][] = []
  for (let k = 0; k < m.length; k++) {
    let v = m.map((_, i) => 1 + 0.1 * i)
    for (let iter = 0; iter < 5000; iter++) {
      const u = m.map((row) => dot(row, v))
      v = scale(u, 1 / norm(u))
    }
    const lambda = dot(v, m.map((row) => dot(row, v)))
    m.forEach((row, i) => row.forEach((_, j) => (row[j]! -= lambda * v[i]! * v[j]!)))
    const largest = v.reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0)
    values.push(lambda)
    vectors.push(scale(v, Math.sign(largest)))
  }
  return { values, vectors }
}

function referenceModel(vectors: Map<string, number[]>) {
  const rows = VOCAB.map((w) => vectors.get(w)!)
  const mean = Array.from({ length: DIMS }, (_, i) => rows.reduce((s, r) => s + r[i]!, 0) / rows.length)
  const cov = mean.map((_, i) => mean.map((_, j) => rows.reduce((s, r) => s + (r[i]! - mean[i]!) * (r[j]! - mean[j]!), 0) / rows.length))
  const { values, vectors: axes } = powerIterationEigen(cov)
  const rotated = new Map(VOCAB.map((w) => [w, axes.map((axis) => dot(axis, vectors.get(w)!))]))
  let harmonic = 0
  for (let r = 1; r <= WORDS.length; r++) harmonic += 1 / r
  const weight = (word: string) => SIF_A / (SIF_A + 1 / ((WORDS.indexOf(word) + 1) * harmonic))
  /** The expected sentence embedding: SIF-weighted mean of rotated vectors of the known tokens, unit length. */
  const embed = (tokens: readonly string[]) => {
    const sum = new Array<number>(DIMS).fill(0)
    for (const token of tokens.filter((w) => VOCAB.includes(w))) rotated.get(token)!.forEach((x, i) => (sum[i]! += weight(token) * x))
    const n = norm(sum)
    return n === 0 ? sum : scale(sum, 1 / n)
  }
  return { variances: values, rotated, embed }
}

// ---- Shared build ----

const vectors = syntheticVectors()
const reference = referenceModel(vectors)

async function buildFixture(t: TapTest) {
  const dir = t.testdir({ 'vectors.json': winkJson(vectors) })
  const progress: BuildProgress[] = []
  const outDir = path.join(dir, 'models', 'funnel', 'tiny-static')
  const result = await buildGloveStaticModel({ sourceJsonPath: path.join(dir, 'vectors.json'), outDir, sifA: SIF_A, maxLength: 64, onProgress: (p) => progress.push(p) })
  return { dir, outDir, result, progress }
}

async function runModel(session: OnnxSession, rows: readonly number[][]): Promise<Float32Array[]> {
  const feeds = { input_ids: padToTensor(rows).tensor, attention_mask: padToTensor(rows.map((r) => r.map(() => 1))).tensor }
  const output = (await session.run(feeds))['sentence_embedding']!
  const data = tensorToFloat32(output)
  return rows.map((_, b) => data.slice(b * DIMS, (b + 1) * DIMS))
}

const near = (t: TapTest, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, msg: string) => {
  const worst = Math.max(...Array.from(expected, (v, i) => Math.abs(v - actual[i]!)))
  t.ok(worst < tol, `${msg} (max abs diff ${worst.toExponential(2)})`)
}

// ---- Tests ----

t.test('the built model matches a hand computation of SIF-weighted, PCA-rotated GloVe pooling', async (t) => {
  const { outDir, result, progress } = await buildFixture(t)
  t.match(result, { dir: outDir, installed: true, vocabSize: VOCAB.length + 2, dims: DIMS })
  t.same((await readdir(outDir)).sort(), [...STATIC_MODEL_FILES].sort(), 'exactly the model files, no pooling config')
  const config = JSON.parse(await readFile(path.join(outDir, 'config.json'), 'utf8'))
  t.match(config, { model_type: 'static-embedding', hidden_size: DIMS, vocab_size: VOCAB.length + 2, max_position_embeddings: 64, funnel: { sif_a: SIF_A } })
  t.same(progress.map((p) => p.phase).filter((p, i, all) => all.indexOf(p) === i), ['read', 'parse', 'pca', 'rotate', 'write'], 'phases reported in order')
  t.equal(progress.at(-1)?.percent, 100)

  const tokenizer = await TextTokenizer.fromDirectory(outDir)
  const session = await OnnxSession.open(path.join(outDir, 'model.onnx'))
  t.teardown(() => session.dispose())
  t.same(session.inputInfo('input_ids')?.shape, ['batch', 'sequence'])
  t.same(session.outputInfo('sentence_embedding')?.shape, ['batch', DIMS])

  const cases = [
    { text: 'The King, and the QUEEN.', tokens: ['the', 'king', ',', 'and', 'the', 'queen', '.'] },
    { text: 'a well-known "horse"', tokens: ['a', 'well', '-', 'known', '"', 'horse', '"'] },
    { text: 'Gold   salt\train', tokens: ['gold', 'salt', 'rain'] },
    { text: 'moon', tokens: ['moon'] },
  ]
  const rows = cases.map((c) => tokenizer.encode(c.text, 64).ids)
  cases.forEach((c, i) => t.same(rows[i], c.tokens.map(idOf), `tokenised words only, lowercased, punctuation split: ${c.text}`))
  const out = await runModel(session, rows)
  cases.forEach((c, i) => near(t, out[i]!, reference.embed(c.tokens), 1e-5, `matches the hand computation: ${c.text}`))
  const [alone] = await runModel(session, [rows[3]!])
  near(t, alone!, out[3]!, 1e-6, 'padding in a batch does not change a vector')
})

t.test('unknown words add nothing; only-unknown input gives a zero vector', async (t) => {
  const { outDir } = await buildFixture(t)
  const tokenizer = await TextTokenizer.fromDirectory(outDir)
  const session = await OnnxSession.open(path.join(outDir, 'model.onnx'))
  t.teardown(() => session.dispose())
  const encode = (text: string) => tokenizer.encode(text, 64).ids
  t.same(encode('zebra Upper mid-1990s'), [1, 1, 1, 1, 1], 'unknown words (and the dropped source word Upper) map to [UNK], id 1')
  const [mixed, known, unknown, empty] = await runModel(session, [encode('zebra king xylophone queen'), encode('king queen'), encode('zebra xylophone'), []])
  near(t, mixed!, known!, 1e-6, 'unknown words do not move the embedding')
  t.same(Array.from(unknown!), new Array(DIMS).fill(0), 'only unknown words: zero vector, not NaN')
  t.same(Array.from(empty!), new Array(DIMS).fill(0), 'empty input: zero vector')
})

t.test('the rotation preserves cosines between words and puts the most variance first', async (t) => {
  const { outDir } = await buildFixture(t)
  const session = await OnnxSession.open(path.join(outDir, 'model.onnx'))
  t.teardown(() => session.dispose())
  const single = await runModel(session, VOCAB.map((w) => [idOf(w)]))
  VOCAB.forEach((w, i) => near(t, single[i]!, scale(reference.rotated.get(w)!, 1 / norm(vectors.get(w)!)), 1e-5, `table row for '${w}'`))
  let worst = 0
  VOCAB.forEach((a, i) => VOCAB.forEach((b, j) => (worst = Math.max(worst, Math.abs(dot(single[i]!, single[j]!) - cosine(vectors.get(a)!, vectors.get(b)!))))))
  t.ok(worst < 1e-5, `word-to-word cosines equal the original GloVe cosines (max diff ${worst.toExponential(2)})`)

  // Per-dimension variance of the table as stored in the model (row = unit output x original norm).
  const table = VOCAB.map((w, i) => scale(Array.from(single[i]!), norm(vectors.get(w)!)))
  const variance = (k: number) => {
    const mean = table.reduce((s, r) => s + r[k]!, 0) / table.length
    return table.reduce((s, r) => s + (r[k]! - mean) ** 2, 0) / table.length
  }
  const variances = Array.from({ length: DIMS }, (_, k) => variance(k))
  t.ok(variances.every((v, k) => k === 0 || v < variances[k - 1]!), `variance decreases along the dims: ${variances.map((v) => v.toFixed(3)).join(' ')}`)
  near(t, variances, reference.variances, 1e-4, 'per-dim variances are the covariance eigenvalues')
  const config = JSON.parse(await readFile(path.join(outDir, 'config.json'), 'utf8'))
  const total = reference.variances.reduce((s, v) => s + v, 0)
  near(t, config.funnel.pca.explained_variance_ratio, reference.variances.map((v) => v / total), 1e-5, 'config.json reports the explained variance ratios')
})

t.test('pca: Jacobi eigenpairs, blocked covariance and rotation with a partial last block', async (t) => {
  const rows = 11 // not a multiple of the 4-row block
  const random = mulberry32(3)
  const data = Float32Array.from({ length: rows * 3 }, () => random() * 2 - 1)
  const { covariance: cov, mean } = await covariance(data, 3)
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let expected = 0
      for (let r = 0; r < rows; r++) expected += (data[r * 3 + i]! - mean[i]!) * (data[r * 3 + j]! - mean[j]!)
      t.ok(Math.abs(cov[i * 3 + j]! - expected / rows) < 1e-12, `covariance[${i}][${j}]`)
    }
  }
  const { values, vectors: axes } = symmetricEigen(cov, 3)
  for (let k = 0; k < 3; k++) {
    const axis = axes.subarray(k * 3, k * 3 + 3)
    const product = [0, 1, 2].map((i) => dot(cov.subarray(i * 3, i * 3 + 3), axis))
    near(t, product, Array.from(axis, (x) => x * values[k]!), 1e-12, `A v = lambda v for pair ${k}`)
  }
  t.ok(values[0]! >= values[1]! && values[1]! >= values[2]!, 'eigenvalues sorted decreasing')

  const pca = await principalAxes(data, 3)
  const rotated = Float32Array.from(data)
  await rotateRows(rotated, pca)
  for (let r = 0; r < rows; r++) {
    const before = data.subarray(r * 3, r * 3 + 3)
    near(t, [norm(rotated.subarray(r * 3, r * 3 + 3))], [norm(before)], 1e-6, `row ${r} keeps its length`)
  }
  t.throws(() => symmetricEigen(new Float64Array(5), 2), /expected 4 values for a 2x2 matrix, got 5/)
  await t.rejects(covariance(new Float32Array(7), 3), /7 values are not a whole number of 3-d rows/)
})

t.test('SIF weights follow a / (a + p) with Zipf p over the whole source list', async (t) => {
  const weights = sifWeights(Int32Array.from([0, 0, 1, 2, 10]), 10, 1e-3)
  const harmonic = Array.from({ length: 10 }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b)
  t.same(Array.from(weights.subarray(0, 2)), [0, 0], '[PAD] and [UNK] weigh nothing')
  near(t, weights.subarray(2), [1, 2, 10].map((r) => 1e-3 / (1e-3 + 1 / (r * harmonic))), 1e-7, 'rank 1, 2, 10')
  t.ok(weights[2]! < weights[3]! && weights[3]! < weights[4]!, 'rarer words weigh more')
})

t.test('which source words the tokenizer can produce', async (t) => {
  for (const word of ['king', ',', '"', 'h1n1', '…', '€']) t.ok(isReachableWord(word), `'${word}' is kept`)
  for (const word of ['well-known', 'u.s.', 'Upper', 'café', '日本', 'two words', '', 'o'.repeat(101)]) t.notOk(isReachableWord(word), `'${word.slice(0, 12)}' is dropped`)
})

t.test('works through EmbeddingModel with in-graph pooling', async (t) => {
  const { outDir } = await buildFixture(t)
  const model = await EmbeddingModel.load(outDir, { id: 'tiny-static' })
  t.teardown(() => model.dispose())
  t.equal(model.pooling, 'in-graph')
  t.equal(model.dims, DIMS)
  t.equal(model.maxLength, 64, 'max length from config.json max_position_embeddings')
  const { vectors: [v] } = await model.embed(['King and queen'])
  near(t, v!, reference.embed(['king', 'and', 'queen']), 1e-5, 'same vector as the hand computation')
})

t.test('installation is atomic and idempotent', async (t) => {
  const { dir, outDir } = await buildFixture(t)
  const source = path.join(dir, 'vectors.json')
  await writeFile(path.join(outDir, 'config.json'), '{"marker": true}')
  const again = await buildGloveStaticModel({ sourceJsonPath: source, outDir })
  t.equal(again.installed, false, 'an existing model is kept')
  t.same(JSON.parse(await readFile(path.join(outDir, 'config.json'), 'utf8')), { marker: true })
  const forced = await buildGloveStaticModel({ sourceJsonPath: source, outDir, force: true })
  t.equal(forced.installed, true, '--force replaces it')
  t.equal(JSON.parse(await readFile(path.join(outDir, 'config.json'), 'utf8')).model_type, 'static-embedding')

  const raceDir = path.join(dir, 'race', 'model')
  const results = await Promise.all([1, 2, 3].map(() => buildGloveStaticModel({ sourceJsonPath: source, outDir: raceDir })))
  t.equal(results.filter((r) => r.installed).length, 1, 'of three concurrent builds exactly one installs')
  t.same(await readdir(path.join(dir, 'race')), ['model'], 'losers leave no staging folders behind')

  const broken = path.join(dir, 'broken')
  await buildGloveStaticModel({ sourceJsonPath: source, outDir: broken })
  await rm(path.join(broken, 'tokenizer.json'))
  await t.rejects(buildGloveStaticModel({ sourceJsonPath: source, outDir: broken }), /broken exists but is not a complete static model; remove it or rebuild with --force/)
})

t.test('ensureDefaultModel builds once, then returns the existing model', async (t) => {
  const dir = t.testdir({ 'vectors.json': winkJson(vectors), models: {} })
  const modelsDir = path.join(dir, 'models')
  const expected = path.join(modelsDir, 'funnel', 'glove-6b-100d-static')
  const logged: string[] = []
  const log = (_: object, msg: string) => logged.push(msg)
  const options = { sourceJsonPath: path.join(dir, 'vectors.json') }
  const dirs = await Promise.all([ensureDefaultModel(modelsDir, log, options), ensureDefaultModel(modelsDir, log, options)])
  t.same(dirs, [expected, expected])
  t.equal(logged.filter((m) => m.startsWith('building the default embedding model')).length, 1, 'concurrent callers share one build')
  t.ok(logged.includes('built the default embedding model'))
  t.ok(logged.includes('the built model has a different size than the models manifest states'), 'an 8-d build is flagged against the manifest')
  logged.length = 0
  t.equal(await ensureDefaultModel(modelsDir, log), expected)
  t.same(logged, [], 'present: nothing built, nothing logged')
})

t.test('a malformed source is refused with the file and the problem', async (t) => {
  const dir = t.testdir({
    'no-vectors.json': JSON.stringify({ dimensions: 2, words: ['a'] }),
    'bad-index.json': JSON.stringify({ dimensions: 2, wordIndex: 3, words: ['a', 'b'], vectors: { a: [0.1, 0.2, 0.3, 1], b: [0.1, 0.2, 0.3, 1] } }),
    'vectors-first.json': JSON.stringify({ vectors: {}, dimensions: 2, words: [] }),
    'truncated.json': '{"dimensions":2,"wordIndex":3,"words":["a"],"vectors":{"a":[0.1,',
  })
  const build = (file: string) => buildGloveStaticModel({ sourceJsonPath: path.join(dir, file), outDir: path.join(dir, 'out') })
  await t.rejects(build('no-vectors.json'), /no-vectors.json: no "vectors" object/)
  await t.rejects(build('bad-index.json'), /bad-index.json: vector for "a" has 4 values and index 1, which does not match "words"/)
  await t.rejects(build('vectors-first.json'), /"words" must appear before "vectors"/)
  await t.rejects(build('truncated.json'), /truncated.json: expected a number at byte \d+, found end of file/)
  await t.rejects(buildGloveStaticModel({ sourceJsonPath: path.join(dir, 'no-vectors.json'), outDir: dir, sifA: 0 }), /sifA: 0 is not allowed/)
})

t.test('onnx writer refuses an initializer whose data does not fill its dims', async (t) => {
  const graph = { name: 'g', nodes: [], inputs: [], outputs: [], initializers: [{ name: 'w', elementType: 'float32' as const, dims: [2, 3], data: new Float32Array(5) }] }
  t.throws(() => encodeOnnxModel({ graph }), /initializer 'w': 5 values do not fill dims \[2, 3\] \(6\)/)
})
