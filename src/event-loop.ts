/**
 * Callers waiting to continue, first come first served: one is resumed per event-loop iteration.
 * With a plain `setImmediate` per caller, every caller that yielded before the check phase began
 * resumed in that same phase, back to back: eight sliced jobs of 10 ms each (eight embedding batches
 * of one upsert, say) held the loop for 80 ms without a timer or socket getting a turn.
 */
const waiting: (() => void)[] = []
let resumeScheduled = false

function resumeOne(): void {
  const next = waiting.shift()
  // Scheduled from the check phase, this runs in the next iteration, after timers and I/O.
  resumeScheduled = waiting.length > 0
  if (resumeScheduled) setImmediate(resumeOne)
  next?.()
}

/**
 * Lets timers, I/O and other requests run before the caller continues (a macrotask, not a
 * microtask). Concurrent callers take turns: at most one of them resumes per event-loop iteration.
 */
export const yieldToEventLoop = (): Promise<void> =>
  new Promise<void>((resolve) => {
    waiting.push(resolve)
    if (!resumeScheduled) {
      resumeScheduled = true
      setImmediate(resumeOne)
    }
  })

/**
 * Cuts a long loop into slices of about `budgetMs` of synchronous work: `slice()` yields to the event
 * loop once the current slice has used its budget, and is free otherwise. Loops that touch every word
 * of a batch (analysis, tokenising) call it per item, so one large request cannot hold the loop.
 *
 * @example
 *   const slicer = new LoopSlicer(10)
 *   for (const doc of docs) {
 *     analyze(doc.text)
 *     await slicer.slice()
 *   }
 */
export class LoopSlicer {
  private sliceStarted = performance.now()

  constructor(readonly budgetMs: number = DEFAULT_SLICE_MS) {}

  async slice(): Promise<void> {
    if (performance.now() - this.sliceStarted < this.budgetMs) return
    await yieldToEventLoop()
    this.sliceStarted = performance.now()
  }
}

/** A fifth of the 50 ms a request may hold the loop: room for the unsliced steps around a slice. */
export const DEFAULT_SLICE_MS = 10
