import path from 'node:path'
import { existsSync } from 'node:fs'
import t from 'tap'
import { TextTokenizer } from '../../src/inference/tokenizer.js'
import { BERT_TOKENIZER_DIR, fixtureModelDir } from '../helpers/fixture-models.js'

// encode() tokenises a long text from a prefix first (issue 13, finding 4: an 8 KB precut cost
// 30-50 ms per document); the ids it keeps must be exactly those of tokenising the whole text.
let state = 7
const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648)
const pieces = ['word', 'Running', "don't", 'U.S.A.', 'naïve', 'café', '1,000', '3.14', '—', '🙂', 'x'.repeat(40), 'ünïcödé', '(paren)', 'e-mail', '\u00a0', '\t', '\n\n', '   ', 'end.']
function text(chars: number): string {
  let out = ''
  while (out.length < chars) out += pieces[Math.floor(random() * pieces.length)] + (random() < 0.8 ? ' ' : random() < 0.5 ? '  ' : '')
  return out
}

const tokenizers: [string, () => Promise<string>][] = [
  ['bert-base-uncased (WordPiece)', async () => BERT_TOKENIZER_DIR],
  ['tiny-causal-lm (byte-level BPE)', () => fixtureModelDir('tiny-causal-lm')],
]
for (const real of ['sentence-transformers/all-MiniLM-L6-v2', 'google/embeddinggemma-300m', 'funnel/glove-6b-100d-static']) {
  const dir = path.join('models', real)
  if (existsSync(path.join(dir, 'tokenizer.json'))) tokenizers.push([`${real} (from models/)`, async () => dir])
}

for (const [name, dirOf] of tokenizers) {
  t.test(`${name}: the prefix shortcut keeps exactly the whole text's tokens`, async (t) => {
    const tokenizer = await TextTokenizer.fromDirectory(await dirOf())
    let shortcut = 0
    for (const maxLength of [8, 32, 128]) {
      for (let i = 0; i < 25; i++) {
        const input = text(Math.floor(maxLength * (2 + random() * 20)))
        const fast = tokenizer.encode(input, maxLength)
        const whole = tokenizer.encodeWhole(input, maxLength)
        if (fast.ids.length === maxLength && fast.truncatedTokens !== whole.truncatedTokens) shortcut++
        t.same(fast.ids, whole.ids, `maxLength ${maxLength}, ${input.length} characters: same ids`)
        t.same(fast.typeIds, whole.typeIds)
        t.equal(fast.truncatedTokens > 0, whole.truncatedTokens > 0, 'truncated either way')
      }
    }
    t.ok(shortcut > 0, `the shortcut was taken (${shortcut} times)`)
  })
}

/** Truncation computed the long way, from tokenizers.js alone: content located by tokenising it again without special tokens. */
function reference(tokenizer: TextTokenizer, input: string, maxLength: number): number[] {
  const text = input.slice(0, maxLength * 16)
  const full = tokenizer.raw.encode(text).ids
  if (full.length <= maxLength) return full
  const content = tokenizer.raw.encode(text, { add_special_tokens: false }).ids
  let start = 0
  while (!content.every((id: number, i: number) => full[start + i] === id)) start++
  const overflow = full.length - maxLength
  return full.filter((_: number, i: number) => i < start + content.length - overflow || i >= start + content.length)
}

for (const [name, dirOf] of tokenizers) {
  t.test(`${name}: truncation by the fixed special-token wrapping equals locating the content (issue 13, finding 4)`, async (t) => {
    const tokenizer = await TextTokenizer.fromDirectory(await dirOf())
    const wrap = tokenizer.specialTokenWrapping
    t.ok(wrap !== undefined, `a fixed wrapping was found: ${JSON.stringify(wrap)}`)
    for (const maxLength of [8, 32, 128]) {
      for (let i = 0; i < 15; i++) {
        const input = text(Math.floor(maxLength * (1 + random() * 12)))
        t.same(tokenizer.encodeWhole(input, maxLength).ids, reference(tokenizer, input, maxLength), `maxLength ${maxLength}, ${input.length} characters`)
      }
    }
  })
}
