/**
 * Latency percentiles by linear interpolation between closest ranks — numpy's default
 * (`numpy.percentile(..., method='linear')`, Hyndman & Fan type 7): the p-th percentile of n sorted
 * values sits at 0-based position (n - 1) * p / 100. With few samples p99 therefore lies between the
 * two slowest requests rather than being the slowest one, as nearest-rank would give.
 */

export interface LatencySummary {
  count: number
  min: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

function sortedCopy(values: readonly number[]): Float64Array {
  if (values.length === 0) throw new RangeError('latency values: the list is empty; at least one value is needed')
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`latency values: ${value} is not a finite number of milliseconds`)
  }
  return Float64Array.from(values).sort()
}

function percentileOfSorted(sorted: Float64Array, p: number): number {
  const position = ((sorted.length - 1) * p) / 100
  const lower = Math.floor(position)
  const upper = Math.min(lower + 1, sorted.length - 1)
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower)
}

/** The p-th percentile (0 <= p <= 100) of the values, interpolated linearly. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile p: ${p} is not allowed; p must be in [0, 100]`)
  return percentileOfSorted(sortedCopy(values), p)
}

const round2 = (ms: number): number => Math.round(ms * 100) / 100

/** Count, min, mean, p50, p95, p99 and max of a list of milliseconds, each rounded to 0.01 ms. */
export function summarizeLatencies(ms: readonly number[]): LatencySummary {
  const sorted = sortedCopy(ms)
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count: sorted.length,
    min: round2(sorted[0]!),
    mean: round2(sum / sorted.length),
    p50: round2(percentileOfSorted(sorted, 50)),
    p95: round2(percentileOfSorted(sorted, 95)),
    p99: round2(percentileOfSorted(sorted, 99)),
    max: round2(sorted[sorted.length - 1]!),
  }
}
