// Proves the TypeScript inference path numerically: onnxruntime-node + tokenizers.js + jinja must
// reproduce the goldens that PyTorch and the Python tokenizers library computed for each fixture.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Template } from '@huggingface/jinja'
import t, { type Test } from 'tap'
import {
  float32Tensor,
  int64Tensor,
  OnnxSession,
  padToTensor,
  tensorToFloat32,
  type OnnxFeeds,
  type OnnxTensor,
} from '../src/inference/onnx.js'
import { TextTokenizer } from '../src/inference/tokenizer.js'
import { fixtureModelDir, readGolden, type CausalLmGolden, type CausalLmGoldenCase } from './helpers/fixture-models.js'

const TOLERANCE = 1e-4

const readJson = async (file: string): Promise<any> => JSON.parse(await readFile(file, 'utf8'))
const label = (text: string): string => JSON.stringify(text.length > 32 ? `${text.slice(0, 32)}…` : text)

function maxAbsDiff(actual: ArrayLike<number>, expected: readonly number[]): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY
  let worst = 0
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
  return worst
}

function assertClose(t: Test, actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  const diff = maxAbsDiff(actual, expected)
  t.ok(diff <= TOLERANCE, `${what} within ${TOLERANCE}`, { maxAbsDiff: diff, length: actual.length })
}

async function openFixture(t: Test, name: string, onnx: string) {
  const dir = await fixtureModelDir(name)
  const session = await OnnxSession.open(path.join(dir, onnx))
  t.teardown(() => session.dispose())
  return { dir, session, tokenizer: await TextTokenizer.fromDirectory(dir) }
}

/** Right-padded BERT feeds; token_type_ids only when the graph declares it (XLM-R-style exports do not). */
function bertFeeds(session: OnnxSession, rows: readonly { ids: number[]; typeIds: number[] }[]): OnnxFeeds {
  const feeds: OnnxFeeds = {
    input_ids: padToTensor(rows.map((r) => r.ids)).tensor,
    attention_mask: padToTensor(rows.map((r) => r.ids.map(() => 1))).tensor,
  }
  if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = padToTensor(rows.map((r) => r.typeIds)).tensor
  return feeds
}

function pool(hidden: Float32Array, length: number, size: number, mode: 'mean' | 'cls'): number[] {
  if (mode === 'cls') return Array.from(hidden.subarray(0, size))
  const sum = new Array<number>(size).fill(0)
  for (let i = 0; i < length * size; i++) sum[i % size]! += hidden[i]!
  return sum.map((v) => v / length)
}

const l2Normalize = (v: number[]): number[] => {
  const norm = Math.hypot(...v)
  return v.map((x) => x / norm)
}

for (const name of ['tiny-bert-mean', 'tiny-bert-cls'] as const) {
  t.test(name, async (t) => {
    const golden = readGolden(name)
    const { dir, session, tokenizer } = await openFixture(t, name, golden.onnx)

    t.test('has the sentence-transformers layout the golden describes', async (t) => {
      const pooling = await readJson(path.join(dir, '1_Pooling/config.json'))
      t.equal(pooling.pooling_mode_mean_tokens, golden.pooling === 'mean')
      t.equal(pooling.pooling_mode_cls_token, golden.pooling === 'cls')
      const modules: { type: string }[] = await readJson(path.join(dir, 'modules.json'))
      t.equal(modules.some((m) => m.type.endsWith('.Normalize')), golden.normalize)
      t.equal((await readJson(path.join(dir, 'sentence_bert_config.json'))).max_seq_length, golden.maxLength)
      t.equal((await readJson(path.join(dir, 'config.json'))).max_position_embeddings, golden.maxLength)
      t.same([...session.inputNames], golden.inputs)
      t.same([...session.outputNames], golden.outputs)
      t.same(session.outputInfo('last_hidden_state')?.shape, ['batch_size', 'sequence_length', golden.hiddenSize])
    })

    t.test('tokenizes like Python tokenizers', async (t) => {
      for (const c of golden.cases) {
        const encoded = tokenizer.encode(c.text, golden.maxLength)
        t.same(encoded.ids, c.ids, `ids of ${label(c.text)}`)
        t.same(encoded.typeIds, c.typeIds, `type ids of ${label(c.text)}`)
        t.equal(encoded.truncatedTokens > 0, c.truncated, `truncation of ${label(c.text)}`)
      }
    })

    t.test('matches PyTorch in one padded batch', async (t) => {
      const out = (await session.run(bertFeeds(session, golden.cases))).last_hidden_state!
      const [batch, maxLen, size] = out.dims as number[]
      t.same([batch, size], [golden.cases.length, golden.hiddenSize])
      const data = tensorToFloat32(out)
      golden.cases.forEach((c, b) => {
        const hidden = data.subarray(b * maxLen! * size!, (b * maxLen! + c.ids.length) * size!)
        assertClose(t, hidden, c.lastHiddenState.flat(), `last_hidden_state of ${label(c.text)}`)
        const pooled = pool(hidden, c.ids.length, size!, golden.pooling)
        assertClose(t, pooled, c.pooled, `${golden.pooling} pooling of ${label(c.text)}`)
        assertClose(t, l2Normalize(pooled), c.normalized, `normalized embedding of ${label(c.text)}`)
      })
    })
  })
}

for (const name of ['tiny-cross-encoder', 'tiny-cross-encoder-2class'] as const) {
  t.test(name, async (t) => {
    const golden = readGolden(name)
    const { dir, session, tokenizer } = await openFixture(t, name, golden.onnx)
    t.same([...session.inputNames], golden.inputs)
    t.same(session.outputInfo('logits')?.shape, ['batch_size', golden.numLabels])
    const config = await readJson(path.join(dir, 'config.json'))
    t.equal(config.max_position_embeddings, golden.maxLength)
    t.equal(Object.keys(config.id2label).length, golden.numLabels)

    t.test('tokenizes pairs like Python tokenizers (only_second truncation)', async (t) => {
      for (const c of golden.cases) {
        const encoded = tokenizer.encodePair(c.query, c.passage, golden.maxLength)
        t.same(encoded.ids, c.ids, `ids of ${label(c.passage)}`)
        t.same(encoded.typeIds, c.typeIds, `type ids of ${label(c.passage)}`)
        t.equal(encoded.truncatedTokens > 0, c.truncated, `truncation of ${label(c.passage)}`)
      }
    })

    t.test('matches PyTorch logits in one padded batch', async (t) => {
      const out = (await session.run(bertFeeds(session, golden.cases))).logits!
      t.same(out.dims, [golden.cases.length, golden.numLabels])
      assertClose(t, tensorToFloat32(out), golden.cases.flatMap((c) => c.logits), 'logits')
    })
  })
}

const toInt64 = (values: readonly number[], dims: readonly number[]): OnnxTensor =>
  int64Tensor(BigInt64Array.from(values, (v) => BigInt(v)), dims)

/** Feeds for one unpadded sequence that continues `pastLength` cached tokens. */
function causalFeeds(ids: readonly number[], pastLength: number): OnnxFeeds {
  return {
    input_ids: toInt64(ids, [1, ids.length]),
    attention_mask: toInt64(new Array(pastLength + ids.length).fill(1), [1, pastLength + ids.length]),
    position_ids: toInt64(ids.map((_, i) => pastLength + i), [1, ids.length]),
  }
}

/** The vocabulary row of logits at `position` of batch row `row`. */
function logitsAt(logits: OnnxTensor, row: number, position: number): Float32Array {
  const [, seq, vocab] = logits.dims as number[]
  const start = (row * seq! + position) * vocab!
  return tensorToFloat32(logits).subarray(start, start + vocab!)
}

const top5 = (row: Float32Array): number[] =>
  Array.from(row.keys())
    .sort((a, b) => row[b]! - row[a]!)
    .slice(0, 5)

async function checkLmTokenizer(t: Test, dir: string, tokenizer: TextTokenizer, golden: CausalLmGolden): Promise<void> {
  const config = await readJson(path.join(dir, 'tokenizer_config.json'))
  t.equal(config.chat_template, golden.chatTemplate)
  t.equal((await readJson(path.join(dir, 'config.json'))).max_position_embeddings, 512)
  for (const c of golden.cases) {
    if (c.messages !== null) {
      const rendered = new Template(config.chat_template).render({
        messages: c.messages,
        add_generation_prompt: c.addGenerationPrompt ?? false,
        bos_token: config.bos_token,
        eos_token: config.eos_token,
      })
      t.equal(rendered + (c.suffix ?? ''), c.prompt, 'chat template renders like jinja2')
    }
    t.same(tokenizer.encode(c.prompt, 512).ids, c.ids, `ids of ${label(c.prompt)}`)
  }
  for (const [identifier, id] of Object.entries(golden.identifierIds)) {
    t.equal(tokenizer.tokenToId(identifier), id, `identifier ${identifier} is one token`)
    t.type(tokenizer.tokenToId(`Ġ${identifier}`), 'number', `identifier ' ${identifier}' is one token`)
  }
  t.type(tokenizer.tokenToId('['), 'number')
  t.type(tokenizer.tokenToId(']'), 'number')
}

function checkLastLogits(t: Test, row: Float32Array, c: CausalLmGoldenCase, what: string): void {
  assertClose(t, row, c.lastLogits, `${what}: last-position logits of ${label(c.prompt)}`)
  t.same(top5(row), c.top5, `${what}: top-5 ids of ${label(c.prompt)}`)
}

t.test('tiny-causal-lm', async (t) => {
  const golden = readGolden('tiny-causal-lm')
  const { dir, session, tokenizer } = await openFixture(t, 'tiny-causal-lm', golden.onnx)
  t.same([...session.inputNames], ['input_ids', 'attention_mask', 'position_ids'])
  t.same(session.outputInfo('logits')?.shape, ['batch_size', 'sequence_length', golden.vocabSize])
  await t.test('tokenizer and chat template', (t) => checkLmTokenizer(t, dir, tokenizer, golden))

  t.test('matches PyTorch in one right-padded batch', async (t) => {
    const rows = golden.cases.map((c) => c.ids)
    const { tensor: inputIds } = padToTensor(rows)
    const out = await session.run({
      input_ids: inputIds,
      attention_mask: padToTensor(rows.map((ids) => ids.map(() => 1))).tensor,
      position_ids: padToTensor(rows.map((ids) => ids.map((_, i) => i))).tensor,
    })
    golden.cases.forEach((c, b) => checkLastLogits(t, logitsAt(out.logits!, b, c.ids.length - 1), c, 'batch'))
  })
})

t.test('tiny-causal-lm-kv', async (t) => {
  const golden = readGolden('tiny-causal-lm-kv')
  const { dir, session, tokenizer } = await openFixture(t, 'tiny-causal-lm-kv', golden.onnx)
  const layers = Array.from({ length: golden.numLayers }, (_, i) => i)
  const pastNames = layers.flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`])
  const presentNames = layers.flatMap((i) => [`present.${i}.key`, `present.${i}.value`])
  t.same([...session.inputNames], ['input_ids', 'attention_mask', 'position_ids', ...pastNames])
  t.same([...session.outputNames], ['logits', ...presentNames])
  t.same(session.inputInfo('past_key_values.0.key')?.shape, [
    'batch_size',
    golden.numKeyValueHeads,
    'past_sequence_length',
    golden.headDim,
  ])
  await t.test('tokenizer and chat template', (t) => checkLmTokenizer(t, dir, tokenizer, golden))

  const emptyPast = (): OnnxFeeds =>
    Object.fromEntries(
      pastNames.map((n) => [n, float32Tensor(new Float32Array(0), [1, golden.numKeyValueHeads, 0, golden.headDim])]),
    )

  t.test('matches PyTorch with an empty past', async (t) => {
    for (const c of golden.cases) {
      const out = await session.run({ ...causalFeeds(c.ids, 0), ...emptyPast() })
      checkLastLogits(t, logitsAt(out.logits!, 0, c.ids.length - 1), c, 'empty past')
      t.same(out['present.0.key']!.dims, [1, golden.numKeyValueHeads, c.ids.length, golden.headDim])
    }
  })

  t.test('matches PyTorch when the last token is decoded from the cache', async (t) => {
    for (const c of golden.cases) {
      const head = c.ids.slice(0, -1)
      const first = await session.run({ ...causalFeeds(head, 0), ...emptyPast() })
      const past = Object.fromEntries(pastNames.map((n, i) => [n, first[presentNames[i]!]!]))
      const second = await session.run({ ...causalFeeds(c.ids.slice(-1), head.length), ...past })
      checkLastLogits(t, logitsAt(second.logits!, 0, 0), c, 'cached decode')
    }
  })
})
