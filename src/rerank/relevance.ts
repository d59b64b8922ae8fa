import type { Calibrators } from '../calibration/calibrator-store.js'
import { STAGE_NAMES, type StageName } from '../candidate.js'
import { sigmoid } from '../calibration/platt.js'
import type { Candidate } from '../candidate.js'
import type { RelevanceSource } from '../schemas/rerank.js'
import type { RerankScoreKey } from './reranker.js'

export interface RelevanceScores {
  /** One score in 0..1 per candidate, in the order given. */
  scores: number[]
  /** How the scores were read from the raw ones (the values are documented in src/schemas/rerank.ts). */
  source: RelevanceSource
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x))

/**
 * How a stage's raw score reads as a number in 0..1 when no calibrator is fitted. A listwise stage's raw
 * score is a window log-odds, relative to the passages it shared a window with, so uncalibrated it is
 * read by its place in the answer: 1 / (rank + 1) for 0-based rank.
 */
function uncalibrated(scoreKey: RerankScoreKey, raw: number, rank: number): { score: number; source: RelevanceSource } {
  switch (scoreKey) {
    case 'cross_encoder':
      return { score: sigmoid(raw), source: 'sigmoid' }
    case 'listwise':
      return { score: 1 / (rank + 1), source: 'rank' }
    default:
      return { score: clamp01((raw + 1) / 2), source: 'cosine' }
  }
}

const isStage = (key: string): key is StageName => (STAGE_NAMES as readonly string[]).includes(key)

/**
 * Reads reranked candidates' raw scores as relevance scores in 0..1, the scale Cohere, Jina and TEI
 * clients expect: calibrated P(relevant) when a calibrator is fitted for (model, stage) and it maps
 * every candidate, else the stage's documented default (see RelevanceSource). All candidates get the
 * same treatment, so the scores of one answer are always comparable.
 *
 * @example
 *   relevanceScores(outcome.candidates, { model: 'cross-encoder/ms-marco-MiniLM-L-6-v2', scoreKey: 'cross_encoder' })
 *   // { scores: [0.93, 0.12], source: 'sigmoid' }
 */
export function relevanceScores(
  candidates: readonly Candidate[],
  stage: { model: string; scoreKey: RerankScoreKey },
  calibrators?: Calibrators,
): RelevanceScores {
  const raw = candidates.map((c) => c.scores[stage.scoreKey] ?? c.score)
  if (calibrators !== undefined && isStage(stage.scoreKey)) {
    const stageName = stage.scoreKey
    const calibrated = raw.map((score, rank) => calibrators.apply(stage.model, stageName, score, { rank: rank + 1 }))
    if (calibrated.length > 0 && calibrated.every((p) => p !== undefined)) return { scores: calibrated as number[], source: 'calibrator' }
  }
  const read = raw.map((score, rank) => uncalibrated(stage.scoreKey, score, rank))
  return { scores: read.map((r) => r.score), source: read[0]?.source ?? uncalibrated(stage.scoreKey, 0, 0).source }
}
