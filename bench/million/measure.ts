/** Recall against exact neighbours, and the progress line long builds print. */

/** Mean over queries of |found ∩ truth| / k, where truth holds k labels per query (row-major). */
export function recallAtK(found: readonly (readonly number[])[], truth: Int32Array, k: number): number {
  if (truth.length !== found.length * k) throw new Error(`recallAtK: ${found.length} result lists but ${truth.length / k} truth rows of ${k}`)
  let hits = 0
  for (let q = 0; q < found.length; q++) {
    const exact = new Set(truth.subarray(q * k, q * k + k))
    for (const label of found[q]!.slice(0, k)) if (exact.has(label)) hits++
  }
  return found.length === 0 ? 0 : hits / (found.length * k)
}

/** Seconds as `1h02m`, `4m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${s}s`
}

/** Prints `label done/total (pct) rate/s, ETA` to stderr at most every `everyMs`. */
export class Progress {
  private readonly started = performance.now()
  private lastPrint = 0
  private finished = false

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly everyMs = 15_000,
  ) {}

  tick(done: number): void {
    const now = performance.now()
    if (this.finished || (done < this.total && now - this.lastPrint < this.everyMs)) return
    this.finished = done >= this.total
    this.lastPrint = now
    const seconds = (now - this.started) / 1000
    const rate = done / Math.max(seconds, 1e-9)
    const eta = done >= this.total ? 'done' : `ETA ${formatDuration((this.total - done) / rate)}`
    process.stderr.write(`${this.label} ${done}/${this.total} (${((100 * done) / this.total).toFixed(1)}%) ${rate.toFixed(0)}/s, ${formatDuration(seconds)} elapsed, ${eta}\n`)
  }
}
