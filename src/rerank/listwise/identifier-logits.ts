/**
 * Maps passage identifiers ('A', 'B', ...) to the vocabulary tokens a model may emit for them, and
 * reads one logit per identifier. Tokenizers spell "A" after '[' differently: bare 'A' (most BPE
 * merges after punctuation), 'ĠA' (GPT-2 byte-level, space-prefixed), '▁A' (SentencePiece) or ' A'
 * (some added vocabularies). Whichever variant the model prefers is the one it would emit, so the
 * identifier's logit is the maximum over its variants.
 */

/** Single-letter identifiers, the FIRST convention; 20 per window keeps every letter one token. */
export const maxIdentifiers = 20

export function identifierLabels(count: number): string[] {
  if (!Number.isInteger(count) || count < 0 || count > maxIdentifiers) {
    throw new RangeError(`a listwise window holds 0..${maxIdentifiers} passages, got ${count}`)
  }
  return Array.from({ length: count }, (_, i) => String.fromCharCode(65 + i))
}

/** The spellings of an identifier token across tokenizer families. */
export const identifierVariants = (label: string): string[] => [label, `Ġ${label}`, `▁${label}`, ` ${label}`]

/** Token ids per identifier; resolve once per tokenizer and reuse for every window. */
export type IdentifierTokenIds = ReadonlyMap<string, readonly number[]>

/**
 * Looks every identifier's variants up in the vocabulary. An identifier with no variant in the
 * vocabulary would silently never be ranked, so that is an error.
 */
export function resolveIdentifierTokenIds(
  tokenToId: (token: string) => number | undefined,
  labels: readonly string[] = identifierLabels(maxIdentifiers),
): IdentifierTokenIds {
  const resolved = new Map<string, number[]>()
  for (const label of labels) {
    const ids = [...new Set(identifierVariants(label).map(tokenToId).filter((id): id is number => id !== undefined))]
    if (ids.length === 0) {
      throw new Error(`identifier '${label}' has no token in the vocabulary (tried ${identifierVariants(label).map((v) => JSON.stringify(v)).join(', ')})`)
    }
    resolved.set(label, ids)
  }
  return resolved
}

/** The max logit over each label's token ids, read from one vocabulary-sized row. */
export function identifierLogits(row: ArrayLike<number>, labels: readonly string[], tokenIds: IdentifierTokenIds): number[] {
  return labels.map((label) => {
    const ids = tokenIds.get(label)
    if (ids === undefined) throw new Error(`identifier '${label}' was not resolved to token ids`)
    return Math.max(...ids.map((id) => row[id] ?? Number.NEGATIVE_INFINITY))
  })
}

/**
 * Normalises a token string from a remote top-logprobs list to an identifier: strips leading
 * whitespace, the 'Ġ'/'▁' space markers and an opening '[' (a server that ignored the '[' prefix
 * may emit '[A' as one token). Returns undefined for anything that is not a single identifier.
 */
export function identifierOfToken(token: string): string | undefined {
  const bare = token.replace(/^[\sĠ▁]+/u, '').replace(/^\[/, '').replace(/\]$/, '')
  return /^[A-Z]$/.test(bare) ? bare : undefined
}

/**
 * The max logprob per label from a remote `{token: logprob}` map; a label missing from the top-k
 * list gets undefined (the window keeps its previous relative order for those passages).
 */
export function identifierLogprobs(topLogprobs: Iterable<[string, number]>, labels: readonly string[]): (number | undefined)[] {
  const best = new Map<string, number>()
  for (const [token, logprob] of topLogprobs) {
    const label = identifierOfToken(token)
    if (label === undefined || !Number.isFinite(logprob)) continue
    best.set(label, Math.max(best.get(label) ?? Number.NEGATIVE_INFINITY, logprob))
  }
  return labels.map((label) => best.get(label))
}
