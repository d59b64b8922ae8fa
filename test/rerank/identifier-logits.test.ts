import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import {
  identifierLabels,
  identifierLogits,
  identifierLogprobs,
  identifierOfToken,
  resolveIdentifierTokenIds,
} from '../../src/rerank/listwise/identifier-logits.js'
import { fixtureModelDir, readGolden } from '../helpers/fixture-models.js'

t.test('labels are A.. up to 20', async (t) => {
  t.same(identifierLabels(3), ['A', 'B', 'C'])
  t.equal(identifierLabels(20).at(-1), 'T')
  t.same(identifierLabels(0), [])
  t.throws(() => identifierLabels(21), /0\.\.20 passages, got 21/)
})

t.test('every spelling of an identifier in the vocabulary is found; the max logit wins', async (t) => {
  const vocab = new Map([['A', 1], ['ĠA', 2], ['▁B', 3], [' C', 4], ['B', 5]])
  const ids = resolveIdentifierTokenIds((token) => vocab.get(token), ['A', 'B', 'C'])
  t.same(ids.get('A'), [1, 2])
  t.same(ids.get('B'), [5, 3])
  t.same(ids.get('C'), [4])
  const row = [0, -1, 2.5, 0.5, 7, -3]
  t.same(identifierLogits(row, ['A', 'B', 'C'], ids), [2.5, 0.5, 7])
  t.throws(() => resolveIdentifierTokenIds((token) => vocab.get(token), ['D']), /identifier 'D' has no token in the vocabulary \(tried "D", "ĠD", "▁D", " D"\)/)
  t.throws(() => identifierLogits(row, ['Z'], ids), /identifier 'Z' was not resolved/)
})

t.test('the fixture LM vocabulary: bare letters and their Ġ-prefixed forms', async (t) => {
  const golden = readGolden('tiny-causal-lm')
  const dir = await fixtureModelDir('tiny-causal-lm')
  const vocab = JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>
  const ids = resolveIdentifierTokenIds((token) => vocab[token])
  t.equal(ids.size, 20)
  for (const [label, id] of Object.entries(golden.identifierIds)) {
    t.equal(ids.get(label)![0], id, `'${label}' resolves to the golden id first`)
    t.same(ids.get(label), [id, vocab[`Ġ${label}`]].filter((x) => x !== undefined), `'${label}' variants`)
  }
})

t.test('remote token strings map back to identifiers', async (t) => {
  t.equal(identifierOfToken('A'), 'A')
  t.equal(identifierOfToken(' B'), 'B')
  t.equal(identifierOfToken('ĠC'), 'C')
  t.equal(identifierOfToken('▁D'), 'D')
  t.equal(identifierOfToken('[E'), 'E', 'a server that ignored the [ prefix')
  t.equal(identifierOfToken('F]'), 'F')
  t.equal(identifierOfToken('AB'), undefined)
  t.equal(identifierOfToken('a'), undefined)
  t.equal(identifierOfToken('['), undefined)
  t.same(
    identifierLogprobs([['A', -0.5], [' A', -0.1], ['B', -2], ['the', -0.01], ['Z', -1], ['C', Number.NaN]], ['A', 'B', 'C']),
    [-0.1, -2, undefined],
    'max over variants; labels absent from the top-k (or non-finite) are undefined',
  )
})
