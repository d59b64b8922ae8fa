import { Type, type Static } from 'typebox'

/**
 * English text analysis for the lexical index, modelled on the analyzer behind Pyserini's BM25
 * baselines (Anserini's DefaultEnglishAnalyzer = Lucene's EnglishAnalyzer chain):
 *
 *   StandardTokenizer -> EnglishPossessiveFilter -> LowerCaseFilter -> StopFilter -> PorterStemFilter
 *
 * Analysis runs here, in JS, rather than in an FTS5 tokenizer, so that (a) stop words can be removed
 * (no FTS5 tokenizer does that), and (b) the terms RM3 reads back from the index are exactly the
 * terms a query is made of: FTS5's `porter` tokenizer would stem an already-stemmed expansion term a
 * second time, and Porter is not idempotent ('agreed' -> 'agre' -> 'agr').
 *
 * @example
 *   analyze("The runner's shoes were running out", { lowercase: true, stemming: 'porter', stopwords: 'english' })
 *   // -> ['runner', 'shoe', 'were', 'run', 'out']
 */
export const AnalysisSettingsSchema = Type.Object({
  lowercase: Type.Literal(true, { default: true }),
  stemming: Type.Union([Type.Literal('porter'), Type.Literal('none')], { default: 'porter' }),
  stopwords: Type.Union([Type.Literal('english'), Type.Literal('none')], { default: 'english' }),
})

export type AnalysisSettings = Static<typeof AnalysisSettingsSchema>

export const defaultAnalysisSettings: Readonly<AnalysisSettings> = Object.freeze({
  lowercase: true,
  stemming: 'porter',
  stopwords: 'english',
})

/**
 * Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words), the list Pyserini's BM25 baselines use.
 * Chosen over a fuller list (e.g. SMART's 571 words) so that numbers compare with the published
 * baselines, and because BM25's idf already discounts frequent words while longer lists drop words
 * that matter in scientific queries ('above', 'less', 'without', 'same'). On SciFact removing
 * these 33 words changes nDCG@10 by < 0.001 but makes queries ~3x faster (fewer long posting lists).
 */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no',
  'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this',
  'to', 'was', 'will', 'with',
])

// An approximation of Unicode word segmentation (UAX #29), which Lucene's StandardTokenizer
// implements: runs of letters, marks, digits and '_', kept together across '.' and apostrophes
// ("u.s.a", "don't", "3.14") and across ',' between digits ("1,000"); everything else separates.
const WORD = /[\p{L}\p{M}\p{N}_]+(?:[.,'\u2019][\p{L}\p{M}\p{N}_]+)*/gu
// Splits a matched word at commas that do not sit between two digits ("a,b" -> "a", "b").
const LETTER_COMMA = /(?<!\p{N}),|,(?!\p{N})/u

/** Tokens of `text` before stop-word removal and stemming: segmented, lowercased, possessives dropped. */
export function tokenize(text: string): string[] {
  const tokens: string[] = []
  for (const word of text.normalize('NFC').toLowerCase().match(WORD) ?? []) {
    if (word.includes(',') && LETTER_COMMA.test(word)) {
      for (const part of word.split(LETTER_COMMA)) if (part.length > 0) tokens.push(dropPossessive(part))
    } else {
      tokens.push(dropPossessive(word))
    }
  }
  return tokens
}

/** Lucene's EnglishPossessiveFilter: a trailing 's (straight, curly or fullwidth apostrophe) goes. */
function dropPossessive(token: string): string {
  const n = token.length
  if (n < 2 || token.charCodeAt(n - 1) !== 0x73) return token
  const apostrophe = token.charCodeAt(n - 2)
  return apostrophe === 0x27 || apostrophe === 0x2019 || apostrophe === 0xff07 ? token.slice(0, n - 2) : token
}

// Stemming dominates analysis time; word frequencies are Zipfian, so a modest cache absorbs most calls.
const STEM_CACHE_LIMIT = 100_000
const stemCache = new Map<string, string>()

function cachedStem(token: string): string {
  let stem = stemCache.get(token)
  if (stem === undefined) {
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear()
    stem = porterStem(token)
    stemCache.set(token, stem)
  }
  return stem
}

/** The index terms of `text` under `settings`, in order, duplicates kept (term frequency matters). */
export function analyze(text: string, settings: AnalysisSettings): string[] {
  const terms: string[] = []
  for (const token of tokenize(text)) {
    if (settings.stopwords === 'english' && ENGLISH_STOP_WORDS.has(token)) continue
    terms.push(settings.stemming === 'porter' ? cachedStem(token) : token)
  }
  return terms
}

/** Characters analysed between two `slice()` calls in {@link analyzeInSlices}: ~2-5 ms of work. */
export const ANALYSIS_PIECE_CHARS = 16_384

/**
 * `analyze(text)`, cut into pieces of about `pieceChars` with `slice()` awaited between them, so a
 * 1 MB document is not one synchronous stretch of tokenising and stemming (~100+ ms). A piece ends
 * just after a whitespace character, which no token contains and which keeps both sides' context
 * for NFC and for the final-sigma rule of `toLowerCase`, so the terms equal `analyze(text)`'s.
 */
export async function analyzeInSlices(
  text: string,
  settings: AnalysisSettings,
  slice: () => Promise<void>,
  pieceChars: number = ANALYSIS_PIECE_CHARS,
): Promise<string[]> {
  if (text.length <= pieceChars) return analyze(text, settings)
  const terms: string[] = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(text.length, start + pieceChars)
    if (end < text.length) {
      const cut = lastWhitespace(text, start, end)
      // No whitespace in the whole piece (one enormous token): extend to the next whitespace.
      end = cut >= 0 ? cut + 1 : nextWhitespaceEnd(text, end)
    }
    for (const term of analyze(text.slice(start, end), settings)) terms.push(term)
    start = end
    if (start < text.length) await slice()
  }
  return terms
}

const WHITESPACE = /\s/u

function lastWhitespace(text: string, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (WHITESPACE.test(text[i]!)) return i
  return -1
}

function nextWhitespaceEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (WHITESPACE.test(text[i]!)) return i + 1
  return text.length
}

/** Occurrences of each distinct term, in first-seen order. */
export function countTerms(terms: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1)
  return counts
}

/**
 * Martin Porter's stemmer as in his reference C/Java code (and so Lucene's PorterStemmer), including
 * its two departures from the 1980 paper: 'bli' -> 'ble' replaces 'abli' -> 'able', and 'logi' ->
 * 'log' is added. Words of one or two characters are returned unchanged.
 */
export function porterStem(word: string): string {
  if (word.length <= 2) return word
  return new PorterStemmer(word).stem()
}

class PorterStemmer {
  private b: string
  /** Index of the last character of the current word. */
  private k: number
  /** End of the stem matched by the last `ends` call. */
  private j = 0

  constructor(word: string) {
    this.b = word
    this.k = word.length - 1
  }

  stem(): string {
    this.step1ab()
    if (this.k > 0) {
      this.step1c()
      this.step2()
      this.step3()
      this.step4()
      this.step5()
    }
    return this.b.slice(0, this.k + 1)
  }

  private isConsonant(i: number): boolean {
    const ch = this.b[i]
    if (ch === 'a' || ch === 'e' || ch === 'i' || ch === 'o' || ch === 'u') return false
    if (ch === 'y') return i === 0 ? true : !this.isConsonant(i - 1)
    return true
  }

  /** The number of vowel-consonant sequences in b[0..j]: [C](VC)^m[V]. */
  private measure(): number {
    let n = 0
    let i = 0
    for (;;) {
      if (i > this.j) return n
      if (!this.isConsonant(i)) break
      i++
    }
    i++
    for (;;) {
      for (;;) {
        if (i > this.j) return n
        if (this.isConsonant(i)) break
        i++
      }
      i++
      n++
      for (;;) {
        if (i > this.j) return n
        if (!this.isConsonant(i)) break
        i++
      }
      i++
    }
  }

  private vowelInStem(): boolean {
    for (let i = 0; i <= this.j; i++) if (!this.isConsonant(i)) return true
    return false
  }

  private doubleConsonant(i: number): boolean {
    return i >= 1 && this.b[i] === this.b[i - 1] && this.isConsonant(i)
  }

  /** consonant-vowel-consonant ending at i, the last consonant not w, x or y ('hop', not 'snow'). */
  private cvc(i: number): boolean {
    if (i < 2 || !this.isConsonant(i) || this.isConsonant(i - 1) || !this.isConsonant(i - 2)) return false
    const ch = this.b[i]
    return ch !== 'w' && ch !== 'x' && ch !== 'y'
  }

  private ends(suffix: string): boolean {
    const length = suffix.length
    if (length > this.k + 1) return false
    if (this.b.slice(this.k - length + 1, this.k + 1) !== suffix) return false
    this.j = this.k - length
    return true
  }

  private setTo(replacement: string): void {
    this.b = this.b.slice(0, this.j + 1) + replacement + this.b.slice(this.k + 1)
    this.k = this.j + replacement.length
  }

  private replaceIfMeasured(replacement: string): void {
    if (this.measure() > 0) this.setTo(replacement)
  }

  /** Plurals and -ed / -ing. */
  private step1ab(): void {
    if (this.b[this.k] === 's') {
      if (this.ends('sses')) this.k -= 2
      else if (this.ends('ies')) this.setTo('i')
      else if (this.b[this.k - 1] !== 's') this.k--
    }
    if (this.ends('eed')) {
      if (this.measure() > 0) this.k--
    } else if ((this.ends('ed') || this.ends('ing')) && this.vowelInStem()) {
      this.k = this.j
      if (this.ends('at')) this.setTo('ate')
      else if (this.ends('bl')) this.setTo('ble')
      else if (this.ends('iz')) this.setTo('ize')
      else if (this.doubleConsonant(this.k)) {
        this.k--
        const ch = this.b[this.k]
        if (ch === 'l' || ch === 's' || ch === 'z') this.k++
      } else if (this.measure() === 1 && this.cvc(this.k)) this.setTo('e')
    }
  }

  /** Terminal y -> i when there is another vowel in the stem. */
  private step1c(): void {
    if (this.ends('y') && this.vowelInStem()) this.b = this.b.slice(0, this.k) + 'i' + this.b.slice(this.k + 1)
  }

  private applyFirst(rules: readonly (readonly [string, string])[]): boolean {
    for (const [suffix, replacement] of rules) {
      if (this.ends(suffix)) {
        this.replaceIfMeasured(replacement)
        return true
      }
    }
    return false
  }

  /** Double suffixes to single ones, keyed by the penultimate letter. */
  private step2(): void {
    const rules = STEP2_RULES[this.b[this.k - 1] ?? '']
    if (rules !== undefined) this.applyFirst(rules)
  }

  /** -ic-, -full, -ness etc., keyed by the last letter. */
  private step3(): void {
    const rules = STEP3_RULES[this.b[this.k] ?? '']
    if (rules !== undefined) this.applyFirst(rules)
  }

  /** Drops -ant, -ence etc. in context <c>vcvc<v>. */
  private step4(): void {
    const suffixes = STEP4_SUFFIXES[this.b[this.k - 1] ?? '']
    if (suffixes === undefined) return
    let matched = false
    for (const suffix of suffixes) {
      if (!this.ends(suffix)) continue
      // -ion is only removed after s or t.
      if (suffix === 'ion' && !(this.j >= 0 && (this.b[this.j] === 's' || this.b[this.j] === 't'))) continue
      matched = true
      break
    }
    if (matched && this.measure() > 1) this.k = this.j
  }

  /** Removes a final -e and reduces -ll when m > 1. */
  private step5(): void {
    this.j = this.k
    if (this.b[this.k] === 'e') {
      const m = this.measure()
      if (m > 1 || (m === 1 && !this.cvc(this.k - 1))) this.k--
    }
    if (this.b[this.k] === 'l' && this.doubleConsonant(this.k) && this.measure() > 1) this.k--
  }
}

const STEP2_RULES: Record<string, readonly (readonly [string, string])[]> = {
  a: [['ational', 'ate'], ['tional', 'tion']],
  c: [['enci', 'ence'], ['anci', 'ance']],
  e: [['izer', 'ize']],
  l: [['bli', 'ble'], ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous']],
  o: [['ization', 'ize'], ['ation', 'ate'], ['ator', 'ate']],
  s: [['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous']],
  t: [['aliti', 'al'], ['iviti', 'ive'], ['biliti', 'ble']],
  g: [['logi', 'log']],
}

const STEP3_RULES: Record<string, readonly (readonly [string, string])[]> = {
  e: [['icate', 'ic'], ['ative', ''], ['alize', 'al']],
  i: [['iciti', 'ic']],
  l: [['ical', 'ic'], ['ful', '']],
  s: [['ness', '']],
}

const STEP4_SUFFIXES: Record<string, readonly string[]> = {
  a: ['al'],
  c: ['ance', 'ence'],
  e: ['er'],
  i: ['ic'],
  l: ['able', 'ible'],
  n: ['ant', 'ement', 'ment', 'ent'],
  o: ['ion', 'ou'],
  s: ['ism'],
  t: ['ate', 'iti'],
  u: ['ous'],
  v: ['ive'],
  z: ['ize'],
}
