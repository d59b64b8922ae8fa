/**
 * A progress line for long CLI jobs (indexing a corpus, scoring a query set):
 * `label  1234/5183  23.8%  412/s  ETA 0:09`.
 *
 * On a TTY the line is rewritten in place with `\r`, at most every `intervalMs`. Elsewhere (CI logs,
 * files) a new line is printed only when another tenth of the total is done, and also no more often
 * than every `intervalMs`, so a log gets at most about ten lines per job. `done()` always prints the
 * final line, with the elapsed time in place of the ETA.
 *
 * @example
 *   const progress = createProgress({ label: 'indexing', total: docs.length })
 *   for (const batch of batches) { await index(batch); progress.tick(batch.length) }
 *   progress.done()
 */

export interface ProgressStream {
  write(chunk: string): unknown
  isTTY?: boolean
}

export interface ProgressOptions {
  label: string
  total: number
  stream?: ProgressStream
  /** Milliseconds from any origin; injectable for tests. */
  now?: () => number
  /** Minimum time between two renders. */
  intervalMs?: number
}

export interface Progress {
  tick(n?: number): void
  done(): void
}

/** `m:ss`, or `h:mm:ss` from one hour on. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const whole = Math.max(0, Math.round(seconds))
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const s = String(whole % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

const formatRate = (perSecond: number): string =>
  !Number.isFinite(perSecond) ? '-/s' : perSecond >= 10 ? `${Math.round(perSecond)}/s` : `${perSecond.toFixed(1)}/s`

export function createProgress(options: ProgressOptions): Progress {
  const { label, total, stream = process.stderr, now = () => performance.now(), intervalMs = 250 } = options
  if (!Number.isFinite(total) || total < 0) throw new RangeError(`progress total: ${total} is not allowed; it must be >= 0`)
  const isTTY = stream.isTTY === true
  const start = now()
  let count = 0
  let lastRender = -Infinity
  let lastDecile = 0
  let lastWidth = 0
  let finished = false

  const line = (final: boolean): string => {
    const elapsedSeconds = (now() - start) / 1000
    const rate = elapsedSeconds > 0 ? count / elapsedSeconds : Number.NaN
    const percent = total > 0 ? ((100 * count) / total).toFixed(1) : '100.0'
    const tail = final ? `in ${formatDuration(elapsedSeconds)}` : `ETA ${formatDuration((total - count) / rate)}`
    return `${label}  ${count}/${total}  ${percent}%  ${formatRate(rate)}  ${tail}`
  }

  const write = (text: string, final: boolean): void => {
    if (isTTY) {
      // Pad over the previous line, which may have been longer (a shrinking ETA, say).
      stream.write(`\r${text.padEnd(lastWidth)}${final ? '\n' : ''}`)
      lastWidth = text.length
    } else {
      stream.write(`${text}\n`)
    }
  }

  return {
    tick(n = 1) {
      if (finished) return
      count += n
      const at = now()
      if (at - lastRender < intervalMs) return
      if (!isTTY) {
        const decile = total > 0 ? Math.floor((10 * count) / total) : 10
        if (decile <= lastDecile || count >= total) return
        lastDecile = decile
      }
      lastRender = at
      write(line(false), false)
    },
    done() {
      if (finished) return
      finished = true
      write(line(true), true)
    },
  }
}
