/** The issue-16 goals for the funnel at 1/4 of the dims, judged from measured rows (never estimated). */

export interface Row {
  engine: 'hnswlib' | 'faiss'
  index_dims: number
  oversample: number
  ef_search: number
  build_s: number
  index_bytes: number
  rescore_bytes: number
  /** The funnel's in-memory rescoring encoding (hnswlib funnel rows only). */
  rescore?: 'float16' | 'int8' | 'float32'
  /** The shortlist came from the candidate pool: the walk at ef_search, the best k × oversample of every node it scored. */
  pool?: boolean
  rss_mb: number
  rss_delta_mb: number
  recall: number
  qps: number
  p50_ms: number
  p99_ms: number
}

export interface GoalReport {
  funnel?: Row
  fullDimAtSameRecall?: Row
  faissAtSameRecall?: Row
  recallMet: boolean
  speedupVsFullDim?: number
  /** The funnel's QPS over full dims' QPS interpolated (linearly in recall) at the funnel row's recall. */
  speedupInterpolated?: number
  memoryRatio?: number
  memoryRatioWithRescore?: number
  faissQpsRatio?: number
  lines: string[]
}

/** The fastest row of `rows` whose recall is at least `recall`. */
export const fastestAtRecall = (rows: readonly Row[], recall: number): Row | undefined =>
  rows.filter((r) => r.recall >= recall).sort((a, b) => b.qps - a.qps)[0]

const fmt = (x: number): string => x.toFixed(2)

/**
 * The fastest funnel row at `funnelDims` with recall ≥ `target`, against the fastest full-dim hnswlib row
 * and the fastest FAISS row at the same dims reaching at least that funnel row's recall.
 */
export function judgeGoals(rows: readonly Row[], fullDims: number, funnelDims: number, target = 0.95): GoalReport {
  const full = rows.filter((r) => r.engine === 'hnswlib' && r.index_dims === fullDims)
  const fullIndexBytes = full[0]?.index_bytes
  const funnelRows = rows.filter((r) => r.engine === 'hnswlib' && r.index_dims === funnelDims)
  const atTarget = fastestAtRecall(funnelRows, target)
  // Short of the target, the other goals are still judged at the best recall the funnel reached.
  const funnel = atTarget ?? [...funnelRows].sort((a, b) => b.recall - a.recall || b.qps - a.qps)[0]
  if (funnel === undefined) return { recallMet: false, lines: [`recall@10 ≥ ${target} at ${funnelDims} dims: no funnel rows`] }
  const report: GoalReport = { funnel, recallMet: atTarget !== undefined, lines: [] }
  report.lines.push(
    atTarget !== undefined
      ? `recall@10 ≥ ${target} at ${funnelDims} dims: met (${funnel.recall.toFixed(3)} at oversample ${funnel.oversample}, ef ${funnel.ef_search}, ${funnel.qps.toFixed(0)} QPS)`
      : `recall@10 ≥ ${target} at ${funnelDims} dims: MISSED (best measured ${funnel.recall.toFixed(3)}, at oversample ${funnel.oversample}, ef ${funnel.ef_search}, ${funnel.qps.toFixed(0)} QPS; the goals below are judged at that recall)`,
  )
  report.fullDimAtSameRecall = fastestAtRecall(full, funnel.recall)
  if (report.fullDimAtSameRecall === undefined) report.lines.push(`≥ 2× full-dim QPS: no full-dim row reached recall ${funnel.recall.toFixed(3)}`)
  else {
    report.speedupVsFullDim = funnel.qps / report.fullDimAtSameRecall.qps
    report.lines.push(`≥ 2× full-dim QPS at the same recall: ${report.speedupVsFullDim >= 2 ? 'met' : 'MISSED'} (${fmt(report.speedupVsFullDim)}× vs ef ${report.fullDimAtSameRecall.ef_search}, recall ${report.fullDimAtSameRecall.recall.toFixed(3)})`)
    // The row above may reach a higher recall than the funnel's; between it and the best full-dim row
    // below the funnel's recall, full dims would reach exactly that recall somewhere in between.
    const below = full.filter((r) => r.recall < funnel.recall).sort((a, b) => b.recall - a.recall || b.qps - a.qps)[0]
    const above = report.fullDimAtSameRecall
    if (below !== undefined && above.recall > funnel.recall) {
      const qps = below.qps + ((funnel.recall - below.recall) / (above.recall - below.recall)) * (above.qps - below.qps)
      report.speedupInterpolated = funnel.qps / qps
      report.lines.push(
        `  the same, interpolated between full-dim ef ${below.ef_search} (${below.recall.toFixed(3)}, ${below.qps.toFixed(0)} QPS) and ef ${above.ef_search} (${above.recall.toFixed(3)}, ${above.qps.toFixed(0)} QPS): full dims ≈ ${qps.toFixed(0)} QPS at ${funnel.recall.toFixed(3)}, the funnel ${fmt(report.speedupInterpolated)}× (${report.speedupInterpolated >= 2 ? 'met' : 'MISSED'})`,
      )
    }
  }
  if (fullIndexBytes !== undefined) {
    report.memoryRatio = funnel.index_bytes / fullIndexBytes
    report.memoryRatioWithRescore = (funnel.index_bytes + funnel.rescore_bytes) / fullIndexBytes
    report.lines.push(`index memory ≤ 1/3 of full-dim: ${report.memoryRatio <= 1 / 3 ? 'met' : 'MISSED'} (index ${fmt(report.memoryRatio)}×; with its ${funnel.rescore ?? 'float16'} rescoring vectors ${fmt(report.memoryRatioWithRescore)}×)`)
  }
  report.faissAtSameRecall = fastestAtRecall(rows.filter((r) => r.engine === 'faiss' && r.index_dims === funnelDims), funnel.recall)
  if (report.faissAtSameRecall === undefined) report.lines.push(`within 1.5× of FAISS HNSW+refine: no FAISS row at ${funnelDims} dims reached recall ${funnel.recall.toFixed(3)}`)
  else {
    report.faissQpsRatio = report.faissAtSameRecall.qps / funnel.qps
    report.lines.push(`within 1.5× of FAISS HNSW+refine at equal recall: ${report.faissQpsRatio <= 1.5 ? 'met' : 'MISSED'} (FAISS ${fmt(report.faissQpsRatio)}× the funnel's QPS, oversample ${report.faissAtSameRecall.oversample}, ef ${report.faissAtSameRecall.ef_search}, recall ${report.faissAtSameRecall.recall.toFixed(3)})`)
  }
  return report
}
