/**
 * Rescoring vectors kept in memory in a compact form, to measure what precision the funnel's exact
 * rescoring needs: fp16 (IEEE half, round to nearest even) or int8 with one fp32 scale per vector
 * (q = round(v / s), s = max|v| / 127). The query stays fp32; a score is the dot product with the
 * dequantised row. The encoders and products are the product's own (src/retrieval/compact-vectors.ts,
 * held by RescoreVectors), so what this measures is what a collection's `rescore_vectors` serves.
 */
import { bytesPerVector, type CompactEncoding } from '../../src/retrieval/compact-vectors.js'
import { RescoreVectors } from '../../src/retrieval/rescore-vectors.js'

export interface CompactRows {
  kind: 'fp16' | 'int8'
  bytesPerVector: number
  dot(query: Float32Array, row: number): number
}

function compactRows(kind: CompactRows['kind'], encoding: CompactEncoding, rows: readonly Float32Array[]): CompactRows {
  const dims = rows[0]?.length ?? 0
  const store = new RescoreVectors(encoding, dims, rows.length)
  rows.forEach((row, i) => store.set(i, row))
  return { kind, bytesPerVector: bytesPerVector(encoding, dims), dot: (query, row) => store.dot(query, row) ?? 0 }
}

export const toFp16Rows = (rows: readonly Float32Array[]): CompactRows => compactRows('fp16', 'float16', rows)
export const toInt8Rows = (rows: readonly Float32Array[]): CompactRows => compactRows('int8', 'int8', rows)
