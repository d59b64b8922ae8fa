import { errors } from '../errors.js'
import { l2Normalize } from '../retrieval/vector-math.js'

/**
 * Rocchio's query revision for dense retrieval: move the query towards the centroid of relevant
 * (or pseudo-relevant) document vectors and away from the centroid of non-relevant ones,
 *
 *   q' = alpha x q + beta x mean(relevant) - gamma x mean(nonRelevant),
 *
 * then renormalise to unit length, since the dense index ranks by cosine / inner product of unit
 * vectors. An empty set contributes nothing. Defaults are the SMART values (1, 0.75, 0.15).
 *
 * @example
 *   const revised = rocchio(queryVector, topDocVectors.slice(0, 3), [], { alpha: 1, beta: 0.75, gamma: 0 })
 */

export interface RocchioWeights {
  alpha: number
  beta: number
  gamma: number
}

export const defaultRocchioWeights: Readonly<RocchioWeights> = Object.freeze({ alpha: 1, beta: 0.75, gamma: 0.15 })

export function rocchio(
  query: Float32Array,
  relevant: readonly Float32Array[],
  nonRelevant: readonly Float32Array[],
  weights: Partial<RocchioWeights> = {},
): Float32Array {
  const { alpha, beta, gamma } = { ...defaultRocchioWeights, ...weights }
  for (const [name, value] of Object.entries({ alpha, beta, gamma })) {
    if (!Number.isFinite(value)) throw errors.invalidValue(`rocchio.${name}`, value, 'weights must be finite numbers')
  }
  const revised = new Float64Array(query.length)
  addScaled(revised, [query], alpha, 'query')
  addScaled(revised, relevant, beta, 'relevant')
  addScaled(revised, nonRelevant, -gamma, 'nonRelevant')
  const out = Float32Array.from(revised)
  let norm = 0
  for (const value of out) norm += value * value
  if (!(norm > 0)) {
    throw errors.invalidRequest('feedback', 'the revised query vector is zero (or not finite); it cannot be normalised')
  }
  return l2Normalize(out)
}

/** target += scale x mean(vectors); nothing when there are no vectors. */
function addScaled(target: Float64Array, vectors: readonly Float32Array[], scale: number, field: string): void {
  if (vectors.length === 0 || scale === 0) return
  const perVector = scale / vectors.length
  vectors.forEach((vector, i) => {
    if (vector.length !== target.length) {
      throw errors.invalidRequest(field === 'query' ? field : `${field}[${i}]`, `has ${vector.length} dimensions, the query has ${target.length}`)
    }
    for (let d = 0; d < target.length; d++) target[d]! += perVector * vector[d]!
  })
}
