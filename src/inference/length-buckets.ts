/**
 * Where to cut a length-sorted list of inputs into ONNX runs.
 *
 * On CPU an encoder's cost follows the padded tokens of a run, not the number of runs: a batch of 32
 * short queries padded to the longest one can cost more than the 32 queries one by one. Cutting only
 * every `maxBatch` inputs (what EmbeddingModel.embed does) keeps that padding whenever lengths spread
 * within a batch; cutting also where padding would pass `maxPaddingRatio` keeps every run nearly
 * rectangular while still batching inputs of similar length together.
 *
 * @example
 *   cutSortedBatches([10, 11, 12, 40, 41], 32, 1.25) // [[0, 3], [3, 5]]
 */
export function cutSortedBatches(sortedLengths: readonly number[], maxBatch: number, maxPaddingRatio = Infinity): [number, number][] {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch: ${maxBatch} is not allowed; use an integer >= 1`)
  if (!(maxPaddingRatio >= 1)) throw new RangeError(`maxPaddingRatio: ${maxPaddingRatio} is not allowed; use a number >= 1 (Infinity cuts by count only)`)
  const cuts: [number, number][] = []
  let start = 0
  let realTokens = 0
  for (let i = 0; i < sortedLengths.length; i++) {
    const length = sortedLengths[i]!
    if (i > 0 && length < sortedLengths[i - 1]!) throw new RangeError(`sortedLengths: not sorted ascending at index ${i} (${sortedLengths[i - 1]} then ${length})`)
    const size = i - start + 1
    // Sorted ascending, so this input is the longest so far and sets the padded width of the run.
    const tooPadded = size * length > maxPaddingRatio * (realTokens + length)
    if (size > maxBatch || (size > 1 && tooPadded)) {
      cuts.push([start, i])
      start = i
      realTokens = 0
    }
    realTokens += length
  }
  if (start < sortedLengths.length) cuts.push([start, sortedLengths.length])
  return cuts
}

/** Padded tokens over real tokens when `sortedLengths` run in the given cuts (1 = no padding). */
export function paddingRatio(sortedLengths: readonly number[], cuts: readonly [number, number][]): number {
  let padded = 0
  let real = 0
  for (const [start, end] of cuts) {
    padded += (end - start) * sortedLengths[end - 1]!
    for (let i = start; i < end; i++) real += sortedLengths[i]!
  }
  return real === 0 ? 1 : padded / real
}
