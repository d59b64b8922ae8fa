import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Tokenizer } from '@huggingface/tokenizers'

/** One tokenised input, already cut to the model's maximum length. */
export interface TokenizedText {
  ids: number[]
  typeIds: number[]
  /** Number of content tokens dropped to fit maxLength (0 when nothing was cut). */
  truncatedTokens: number
}

/**
 * Characters kept per allowed token before tokenising: a WordPiece/BPE token covers far fewer, so the
 * cut never changes the result, but a 5 MB input no longer blocks the event loop for seconds.
 */
const CHARS_PER_TOKEN_BOUND = 16

const precut = (text: string, maxLength: number): string =>
  text.length > maxLength * CHARS_PER_TOKEN_BOUND ? text.slice(0, maxLength * CHARS_PER_TOKEN_BOUND) : text

/**
 * Characters per allowed token tried first: English runs ~4-5 characters per WordPiece/BPE token, so
 * a long text usually overflows within this prefix, and tokenising a third of the 16x bound (an
 * 8 KB precut took 30-50 ms in tokenizers.js here, once per document on a 10 KB upsert) is enough.
 */
const CHARS_PER_TOKEN_FIRST_TRY = 6
/**
 * Tried second, when the first prefix did not overflow (short words, many unknown tokens: 7-8
 * characters per token); only then is the whole 16x precut tokenised.
 */
const CHARS_PER_TOKEN_SECOND_TRY = 10

const WHITESPACE = /\s/

/**
 * `text` cut just before the first character of a whitespace run at or before `limit`, or undefined
 * when there is none. Pre-tokenizers (whitespace/punctuation splitting, byte-level BPE's regex,
 * SentencePiece's metaspace) and normalizers act locally, so every token of such a prefix is the
 * token the whole text has at the same position.
 */
function prefixAtWhitespace(text: string, limit: number): string | undefined {
  for (let i = Math.min(limit, text.length - 1); i > 0; i--) {
    if (WHITESPACE.test(text[i]!) && !WHITESPACE.test(text[i - 1]!)) return text.slice(0, i)
  }
  return undefined
}

const sameRun = (haystack: number[], start: number, needle: number[]): boolean =>
  needle.every((id, i) => haystack[start + i] === id)

/**
 * A Hugging Face `tokenizer.json` tokenizer with truncation that keeps special tokens intact.
 * tokenizers.js has no truncation of its own, so the content span is located and cut here.
 *
 * @example
 *   const tok = await TextTokenizer.fromDirectory('models/all-MiniLM-L6-v2')
 *   tok.encode('hello world', 128).ids // [101, 7592, 2088, 102]
 */
export class TextTokenizer {
  /** Special tokens around a single text (see specialTokens): undefined until checked, null when not fixed. */
  private wrapping: { before: number; after: number } | null | undefined
  constructor(private readonly inner: Tokenizer) {}

  static async fromDirectory(dir: string): Promise<TextTokenizer> {
    const tokenizerJson = JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8'))
    let tokenizerConfig: object = {}
    try {
      tokenizerConfig = JSON.parse(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8'))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    return new TextTokenizer(new Tokenizer(tokenizerJson, tokenizerConfig))
  }

  /** The underlying tokenizers.js instance, for callers that need the vocabulary or decoding. */
  get raw(): Tokenizer {
    return this.inner
  }

  /** Special tokens this tokenizer puts before and after a single text, when fixed (see encodeWhole). */
  get specialTokenWrapping(): { before: number; after: number } | undefined {
    return this.specialTokens()
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token)
  }

  /**
   * Tokenises `text` with special tokens, dropping content tokens from the end to fit `maxLength`.
   * A long text is first tokenised from a prefix of ~6 characters per allowed token (cut at
   * whitespace); when that prefix alone overflows, its tokens are the whole text's and are kept.
   * `truncatedTokens` then counts what the prefix overflowed by, not the whole text.
   */
  encode(input: string, maxLength: number): TokenizedText {
    for (const charsPerToken of [CHARS_PER_TOKEN_FIRST_TRY, CHARS_PER_TOKEN_SECOND_TRY]) {
      if (input.length <= maxLength * charsPerToken) break
      const prefix = prefixAtWhitespace(input, maxLength * charsPerToken)
      if (prefix === undefined) break
      const tried = this.encodeWhole(prefix, maxLength)
      if (tried.truncatedTokens > 0) return tried
    }
    return this.encodeWhole(input, maxLength)
  }

  /** `encode` without the prefix shortcut: the text up to 16 characters per allowed token is tokenised. */
  encodeWhole(input: string, maxLength: number): TokenizedText {
    const text = precut(input, maxLength)
    const full = this.inner.encode(text, { return_token_type_ids: true })
    const typeIds = full.token_type_ids ?? full.ids.map(() => 0)
    const overflow = full.ids.length - maxLength
    if (overflow <= 0) return { ids: full.ids, typeIds, truncatedTokens: 0 }
    const wrap = this.specialTokens()
    let cutEnd: number
    if (wrap !== undefined) {
      // Special tokens are added around the content after tokenising: it is what lies between them.
      cutEnd = full.ids.length - wrap.after
    } else {
      const content = this.inner.encode(text, { add_special_tokens: false }).ids
      cutEnd = this.locate(full.ids, content) + content.length
    }
    const keep = (_: number, i: number) => i < cutEnd - overflow || i >= cutEnd
    return { ids: full.ids.filter(keep), typeIds: typeIds.filter(keep), truncatedTokens: overflow }
  }

  /**
   * Tokenises a (query, passage) pair for a cross-encoder. Only the passage is truncated, never the
   * query, unless the query alone leaves no room, in which case the query is cut too.
   */
  encodePair(rawQuery: string, rawPassage: string, maxLength: number): TokenizedText {
    const query = precut(rawQuery, maxLength)
    const passage = precut(rawPassage, maxLength)
    const full = this.inner.encode(query, { text_pair: passage, return_token_type_ids: true })
    const typeIds = full.token_type_ids ?? full.ids.map(() => 0)
    const overflow = full.ids.length - maxLength
    if (overflow <= 0) return { ids: full.ids, typeIds, truncatedTokens: 0 }
    const passageIds = this.inner.encode(passage, { add_special_tokens: false }).ids
    const start = this.locate(full.ids, passageIds, true)
    const cutEnd = start + passageIds.length
    const fromPassage = Math.min(overflow, passageIds.length)
    const keep = (_: number, i: number) => i < cutEnd - fromPassage || i >= cutEnd
    const ids = full.ids.filter(keep)
    const types = typeIds.filter(keep)
    if (fromPassage === overflow) return { ids, typeIds: types, truncatedTokens: overflow }
    // The query alone is longer than the model allows: hard cut, keeping the final special token.
    const last = ids.length - 1
    const trimmed = ids.slice(0, maxLength - 1).concat(ids[last]!)
    return { ids: trimmed, typeIds: types.slice(0, maxLength - 1).concat(types[last]!), truncatedTokens: overflow }
  }

  /**
   * How many special tokens this tokenizer puts before and after a single text, when that is a fixed
   * wrapping (BERT's [CLS] ... [SEP], RoBERTa's <s> ... </s>, Gemma's <bos> ...): checked once on
   * probe texts, undefined when the content cannot be told apart that way (it is then located by
   * tokenising the text again without special tokens).
   */
  private specialTokens(): { before: number; after: number } | undefined {
    if (this.wrapping === null) return undefined
    if (this.wrapping !== undefined) return this.wrapping
    this.wrapping = null
    const probes = ['funnel', 'a b c, d.', 'Tokenizers wrap the same way whatever the text 123 !?']
    let found: { before: number; after: number } | undefined
    for (const probe of probes) {
      const full = this.inner.encode(probe).ids
      const content = this.inner.encode(probe, { add_special_tokens: false }).ids
      if (content.length === 0 || full.length < content.length) return undefined
      let start: number
      try {
        start = this.locate(full, content)
      } catch {
        return undefined
      }
      const wrap = { before: start, after: full.length - start - content.length }
      if (found !== undefined && (found.before !== wrap.before || found.after !== wrap.after)) return undefined
      found = wrap
    }
    this.wrapping = found ?? null
    return found
  }

  /** Finds where `content` sits inside the special-token-wrapped `full` sequence. */
  private locate(full: number[], content: number[], fromEnd = false): number {
    const last = full.length - content.length
    if (fromEnd) {
      for (let start = last; start >= 0; start--) if (sameRun(full, start, content)) return start
    } else {
      for (let start = 0; start <= last; start++) if (sameRun(full, start, content)) return start
    }
    throw new Error('tokenizer: could not locate the content tokens inside the encoded sequence')
  }
}
