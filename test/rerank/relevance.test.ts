import t from 'tap'
import type { Calibrators } from '../../src/calibration/calibrator-store.js'
import type { Candidate } from '../../src/candidate.js'
import { relevanceScores } from '../../src/rerank/relevance.js'

const candidate = (id: string, scores: Candidate['scores']): Candidate => ({ id, text: id, score: 0, scores })

t.test('without a calibrator each stage has its documented reading in 0..1', (t) => {
  const ce = relevanceScores([candidate('a', { cross_encoder: 3 }), candidate('b', { cross_encoder: -7.5 })], { model: 'ce', scoreKey: 'cross_encoder' })
  t.equal(ce.source, 'sigmoid')
  t.ok(Math.abs(ce.scores[0]! - 1 / (1 + Math.exp(-3))) < 1e-12)
  t.ok(ce.scores[1]! > 0 && ce.scores[1]! < 0.001, 'a negative logit is a small probability, never negative')

  // Window log-odds are relative to a window: uncalibrated, the answer's order is what is reported.
  const lw = relevanceScores([candidate('a', { listwise: 3.2 }), candidate('b', { listwise: -2 }), candidate('c', { listwise: 7 })], { model: 'lm', scoreKey: 'listwise' })
  t.same(lw, { scores: [1, 0.5, 1 / 3], source: 'rank' }, 'listwise reads 1/(rank+1) from the position, whatever the log-odds')
  t.end()
})

t.test('a calibrator that maps every candidate replaces the default; one that does not is not half-applied', (t) => {
  const seen: unknown[] = []
  const calibrators: Calibrators = {
    apply(model, stage, raw, context) {
      seen.push([model, stage, raw, context])
      return model === 'ce' ? 0.25 : undefined
    },
  }
  const list = [candidate('a', { cross_encoder: 2 }), candidate('b', { cross_encoder: 1 })]
  t.same(relevanceScores(list, { model: 'ce', scoreKey: 'cross_encoder' }, calibrators), { scores: [0.25, 0.25], source: 'calibrator' })
  t.same(seen, [
    ['ce', 'cross_encoder', 2, { rank: 1 }],
    ['ce', 'cross_encoder', 1, { rank: 2 }],
  ], 'keyed by model and stage, with each candidate rank')
  t.equal(relevanceScores(list, { model: 'other', scoreKey: 'cross_encoder' }, calibrators).source, 'sigmoid')
  t.end()
})
