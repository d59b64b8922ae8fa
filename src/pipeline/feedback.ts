import { LoopSlicer, yieldToEventLoop } from '../event-loop.js'
import { guardAgainstDrift } from '../feedback/drift-guard.js'
import { expandQueryInSlices } from '../feedback/rm3.js'
import { rocchio } from '../feedback/rocchio.js'
import { elapsedMs, type Hit } from '../candidate.js'
import type { FeedbackReport } from '../schemas/search.js'
import type { Backend } from '../store/backend.js'
import type { RetrievalMode } from './first-pass.js'

export type { FeedbackReport } from '../schemas/search.js'

export interface PrfSettings {
  enabled: boolean
  /** Feedback documents (the deepest revision when the guard is on). */
  depth: number
  alpha: number
  beta: number
  gamma: number
  /** RM3: expansion terms kept, and the original query's weight in the interpolation. */
  terms: number
  original_query_weight: number
  source: 'retrieval' | 'rerank'
  guard: boolean
}

export const DEFAULT_PRF: PrfSettings = {
  enabled: false,
  depth: 10,
  alpha: 1,
  beta: 0.75,
  gamma: 0.15,
  terms: 10,
  original_query_weight: 0.5,
  source: 'retrieval',
  guard: true,
}

/** Guard depths: the standard ladder cut at the requested depth, plus the depth itself. */
const GUARD_DEPTHS = [1, 3, 5, 10, 20]

/** A reformulated query: a Rocchio vector for the dense side, RM3 weighted terms for the lexical side. */
export interface Revision {
  vector?: Float32Array
  terms?: { term: string; weight: number }[]
}

export interface FeedbackInput {
  backend: Backend
  collection: string
  mode: RetrievalMode
  query: string
  queryVector?: Float32Array
  /** The ranking feedback is read from (first-pass or reranked), best first. */
  feedback: readonly Hit[]
  settings: PrfSettings
  /** Runs retrieval for a revision; returns ranked hits. */
  retrieve: (revision: Revision) => Promise<Hit[]>
}


/** Builds the revision from the top `depth` feedback documents (Rocchio in vector space, RM3 on terms). */
export async function buildRevision(input: FeedbackInput, depth: number): Promise<Revision> {
  const top = input.feedback.slice(0, depth)
  const revision: Revision = {}
  if (input.mode !== 'lexical' && input.queryVector !== undefined) {
    // Non-relevant evidence: the tail of the same ranking, as far from the feedback as the list allows.
    const tail = input.settings.gamma > 0 ? input.feedback.slice(Math.max(depth, input.feedback.length - depth)) : []
    const vectors = await input.backend.vectors(input.collection, [...top, ...tail].map((c) => c.id))
    const of = (hits: readonly Hit[]) => hits.flatMap((h) => vectors.get(h.id) ?? [])
    revision.vector = rocchio(input.queryVector, of(top), of(tail), input.settings)
  }
  if (input.mode !== 'dense') {
    const lexicalScores = top.map((c) => c.scores.lexical).filter((s): s is number => s !== undefined && s > 0)
    const fallback = lexicalScores.length > 0 ? Math.min(...lexicalScores) : 1
    const statistics = await input.backend.termStatistics(input.collection, top.map((c) => c.id))
    const slicer = new LoopSlicer()
    revision.terms = await expandQueryInSlices(
      statistics,
      input.query,
      top.map((c) => ({ id: c.id, score: c.scores.lexical ?? fallback })),
      { feedbackDocs: depth, feedbackTerms: input.settings.terms, originalQueryWeight: input.settings.original_query_weight },
      () => slicer.slice(),
    )
  }
  return revision
}

/**
 * Pseudo-relevance feedback: reformulate from the top feedback documents and retrieve again. With the
 * drift guard on, revisions from several depths compete and the original query is kept unless one
 * revision preserves the original top results, agrees with its neighbours and adds something new.
 */
export async function runFeedback(input: FeedbackInput): Promise<{ hits: Hit[]; report: FeedbackReport; prf_ms: number }> {
  const started = performance.now()
  const { settings } = input
  const terms = (revision: Revision) => revision.terms?.slice(0, settings.terms * 2).map((t) => t.term)
  if (!settings.guard) {
    await yieldToEventLoop()
    const revision = await buildRevision(input, settings.depth)
    await yieldToEventLoop()
    const hits = await input.retrieve(revision)
    const report: FeedbackReport = { used: settings.depth, reason: 'drift guard off', source: settings.source, ...(revision.terms && { expansion_terms: terms(revision) }) }
    return { hits, report, prf_ms: elapsedMs(started) }
  }
  const depths = [...new Set([...GUARD_DEPTHS.filter((d) => d < settings.depth), settings.depth])]
  const results = new Map<number, { hits: Hit[]; revision: Revision }>()
  const decision = await guardAgainstDrift(
    input.feedback.map((c) => c.id),
    async (depth) => {
      // A revision is a feedback read, then a whole retrieval: the event loop gets a turn before each.
      await yieldToEventLoop()
      const revision = await buildRevision(input, depth)
      await yieldToEventLoop()
      const hits = await input.retrieve(revision)
      results.set(depth, { hits, revision })
      return hits.map((c) => c.id)
    },
    { depths },
  )
  const chosen = decision.chosen === 'original' ? undefined : results.get(decision.chosen)
  const report: FeedbackReport = {
    used: decision.chosen,
    reason: decision.reason,
    source: settings.source,
    revisions: decision.revisions,
    ...(chosen?.revision.terms && { expansion_terms: terms(chosen.revision) }),
  }
  return { hits: chosen?.hits ?? [...input.feedback], report, prf_ms: elapsedMs(started) }
}
