import { errors } from '../errors.js'
import type { TermStatistics, WeightedTerm } from '../retrieval/bm25-index.js'

/**
 * RM3 pseudo-relevance feedback (Lavrenko & Croft's relevance model, interpolated with the query as in
 * Abdul-Jaleel et al.), following Anserini's Rm3Reranker so results are comparable with Pyserini's
 * `bm25+rm3` baselines:
 *
 * 1. Each feedback document becomes a term vector of its analysed term frequencies, keeping only
 *    terms of 2-20 characters of [a-z0-9] that occur in at most 10% of the collection (Anserini's
 *    df cut-off, which stands in for a stop list), then only its `feedbackTerms` most frequent terms.
 * 2. P(w|R) = sum over documents of P(w|D) x score(D), with P(w|D) = tf / (sum of the kept tfs): a
 *    maximum-likelihood document model weighted by the first-stage retrieval score (BM25 for lexical
 *    feedback). Scores only set the documents' relative weight, since the model is L1-normalised.
 * 3. Keep the `feedbackTerms` most probable terms, renormalise, and mix with the query's own term
 *    distribution: w(t) = originalQueryWeight x P(t|Q) + (1 - originalQueryWeight) x P(t|R).
 *
 * The result is a weighted bag of analysed terms, which `Bm25Index.searchTerms` scores as the
 * weighted sum of per-term BM25 contributions — what Lucene does with a BooleanQuery of boosted
 * TermQuerys.
 *
 * @example
 *   const first = index.search(query, 1000)
 *   const expanded = expandQuery(index, query, first)
 *   const second = index.searchTerms(expanded, 1000)
 */

export interface Rm3Options {
  /** How many top documents to take as feedback; default 10. */
  feedbackDocs: number
  /** Terms kept per document and in the relevance model; default 10. */
  feedbackTerms: number
  /** Weight of the original query in the interpolation, in [0, 1]; default 0.5. */
  originalQueryWeight: number
  /** Terms in more than this fraction of documents are not feedback terms; default 0.1. */
  maxDocumentFrequencyRatio: number
}

export const defaultRm3Options: Readonly<Rm3Options> = Object.freeze({
  feedbackDocs: 10,
  feedbackTerms: 10,
  originalQueryWeight: 0.5,
  maxDocumentFrequencyRatio: 0.1,
})

export interface FeedbackDocument {
  id: string
  /** First-stage score; must be >= 0 (BM25 scores are). */
  score: number
}

export interface ScoredTermCounts {
  termCounts: ReadonlyMap<string, number>
  score: number
}

const FEEDBACK_TERM = /^[a-z0-9]{2,20}$/

const byWeightThenTerm = (a: [string, number], b: [string, number]): number =>
  b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

function topTerms(weights: ReadonlyMap<string, number>, k: number): Map<string, number> {
  return new Map([...weights].sort(byWeightThenTerm).slice(0, k))
}

/**
 * The `k` most frequent terms of one document that are feedback terms, as topTerms over the filtered
 * map would pick them, but asking `isFeedbackTerm` (a df lookup) only until `k` are found: a 1 MB
 * document has ~40,000 distinct terms and RM3 keeps ten.
 */
function topFeedbackTerms(termCounts: ReadonlyMap<string, number>, isFeedbackTerm: (term: string) => boolean, k: number): Map<string, number> {
  const kept = new Map<string, number>()
  // Counts are integers: group terms by count and sort only the groups the walk reaches (by term),
  // the same order as sorting every entry by count then term, without sorting the ~40,000 terms of a
  // long document (tens of ms in one stretch) when the top ten sit in its few most frequent groups.
  const byCount = new Map<number, string[]>()
  for (const [term, tf] of termCounts) {
    const group = byCount.get(tf)
    if (group === undefined) byCount.set(tf, [term])
    else group.push(term)
  }
  for (const tf of [...byCount.keys()].sort((a, b) => b - a)) {
    for (const term of byCount.get(tf)!.sort()) {
      if (kept.size >= k) return kept
      if (FEEDBACK_TERM.test(term) && isFeedbackTerm(term)) kept.set(term, tf)
    }
  }
  return kept
}

function l1Normalize(weights: Map<string, number>): Map<string, number> {
  let sum = 0
  for (const weight of weights.values()) sum += Math.abs(weight)
  if (sum > 0) for (const [term, weight] of weights) weights.set(term, weight / sum)
  return weights
}

/**
 * P(w|R) over at most `feedbackTerms` terms, L1-normalised; empty when no document has a usable term.
 * `isFeedbackTerm` applies the collection-level filter (document frequency).
 */
export function estimateRelevanceModel(
  documents: readonly ScoredTermCounts[],
  isFeedbackTerm: (term: string) => boolean,
  feedbackTerms: number,
): Map<string, number> {
  return runToEnd(relevanceModelSteps(documents, isFeedbackTerm, feedbackTerms))
}

/** {@link estimateRelevanceModel} one feedback document per step (a step can be several ms of df lookups). */
function* relevanceModelSteps(
  documents: readonly ScoredTermCounts[],
  isFeedbackTerm: (term: string) => boolean,
  feedbackTerms: number,
): Generator<void, Map<string, number>> {
  const model = new Map<string, number>()
  for (const { termCounts, score } of documents) {
    if (!Number.isFinite(score) || score < 0) {
      throw errors.invalidValue('feedback.score', score, 'feedback scores must be finite and >= 0')
    }
    const vector = topFeedbackTerms(termCounts, isFeedbackTerm, feedbackTerms)
    let length = 0
    for (const tf of vector.values()) length += tf
    if (length > 0) for (const [term, tf] of vector) model.set(term, (model.get(term) ?? 0) + (tf / length) * score)
    yield
  }
  return l1Normalize(topTerms(model, feedbackTerms))
}

/** Runs a stepwise computation to its end in one go. */
function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}

/** Runs a stepwise computation, awaiting `slice()` between steps (it yields to the event loop when due). */
async function runInSlices<T>(steps: Generator<void, T>, slice: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
    await slice()
  }
}

/** originalQueryWeight x P(t|Q) + (1 - originalQueryWeight) x P(t|R), heaviest first. */
export function interpolateWithQuery(
  queryTerms: readonly string[],
  relevanceModel: ReadonlyMap<string, number>,
  originalQueryWeight: number,
): WeightedTerm[] {
  const query = new Map<string, number>()
  for (const term of queryTerms) query.set(term, (query.get(term) ?? 0) + 1)
  l1Normalize(query)
  const mixed = new Map<string, number>()
  for (const [term, p] of query) mixed.set(term, originalQueryWeight * p)
  for (const [term, p] of relevanceModel) mixed.set(term, (mixed.get(term) ?? 0) + (1 - originalQueryWeight) * p)
  return [...mixed].sort(byWeightThenTerm).map(([term, weight]) => ({ term, weight }))
}

/**
 * The RM3 query for `query` given its first-stage ranking `feedback` (best first; only the top
 * `feedbackDocs` are read). Returns the original terms alone when the query has no terms.
 */
export function expandQuery(
  index: TermStatistics,
  query: string,
  feedback: readonly FeedbackDocument[],
  options: Partial<Rm3Options> = {},
): WeightedTerm[] {
  return runToEnd(expansionSteps(index, query, feedback, options))
}

/**
 * {@link expandQuery} with `slice()` awaited after each feedback document: at depth 100 over 10 KB
 * documents the term walks and df lookups are ~70 ms of CPU, one synchronous stretch otherwise.
 */
export function expandQueryInSlices(
  index: TermStatistics,
  query: string,
  feedback: readonly FeedbackDocument[],
  options: Partial<Rm3Options>,
  slice: () => Promise<void>,
): Promise<WeightedTerm[]> {
  return runInSlices(expansionSteps(index, query, feedback, options), slice)
}

function* expansionSteps(
  index: TermStatistics,
  query: string,
  feedback: readonly FeedbackDocument[],
  options: Partial<Rm3Options>,
): Generator<void, WeightedTerm[]> {
  const settings = resolveOptions(options)
  const queryTerms = index.analyzeQuery(query)
  if (queryTerms.length === 0) return []
  const top = feedback.slice(0, settings.feedbackDocs)
  const counts = index.termCounts(top.map((doc) => doc.id))
  const documents: ScoredTermCounts[] = []
  for (const doc of top) {
    const termCounts = counts.get(doc.id)
    if (termCounts !== undefined) documents.push({ termCounts, score: doc.score })
  }
  const maxDocumentFrequency = settings.maxDocumentFrequencyRatio * index.count()
  // Document frequencies are looked up lazily, only for the terms a document's top-k walk reaches.
  const frequencies = new Map<string, number>()
  const isFeedbackTerm = (term: string): boolean => {
    // Every indexed term is in at least one document: below 1 nothing passes, so ask nothing (in a
    // tiny collection a 1 MB feedback document would otherwise cost a lookup per distinct term).
    if (maxDocumentFrequency < 1) return false
    let df = frequencies.get(term)
    if (df === undefined) frequencies.set(term, (df = index.documentFrequencies([term]).get(term) ?? 0))
    return df <= maxDocumentFrequency
  }
  const relevanceModel = yield* relevanceModelSteps(documents, isFeedbackTerm, settings.feedbackTerms)
  return interpolateWithQuery(queryTerms, relevanceModel, settings.originalQueryWeight)
}

function resolveOptions(options: Partial<Rm3Options>): Rm3Options {
  const settings = { ...defaultRm3Options, ...options }
  for (const field of ['feedbackDocs', 'feedbackTerms'] as const) {
    if (!Number.isInteger(settings[field]) || settings[field] < 1) {
      throw errors.invalidValue(`rm3.${field}`, settings[field], 'it must be an integer >= 1')
    }
  }
  for (const field of ['originalQueryWeight', 'maxDocumentFrequencyRatio'] as const) {
    const value = settings[field]
    if (!(value >= 0 && value <= 1)) throw errors.invalidValue(`rm3.${field}`, value, 'it must be in [0, 1]')
  }
  return settings
}
