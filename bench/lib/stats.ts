/**
 * Medians, latency percentiles and padding, computed one way for every bench.
 *
 * Percentiles interpolate linearly between closest ranks — numpy's default
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

/** The middle value, or the mean of the two middle ones; NaN for no values. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The lower of the two middle values: always one of the samples, so the run it came from can be found. */
export function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('lowerMedian: the list is empty; at least one value is needed')
  return [...values].sort((a, b) => a - b)[(values.length - 1) >> 1]!
}

/**
 * Padded tokens over real tokens when inputs of `lengths` run in consecutive batches of `batchSize`,
 * in the order given (each batch pads to its longest input; 1 = no padding).
 */
export function paddingRatio(lengths: readonly number[], batchSize: number): number {
  let padded = 0
  for (let from = 0; from < lengths.length; from += batchSize) {
    const batch = lengths.slice(from, from + batchSize)
    padded += Math.max(...batch) * batch.length
  }
  return padded / lengths.reduce((a, b) => a + b, 0)
}
