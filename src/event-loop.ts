import { setImmediate as nextMacrotask } from 'node:timers/promises'

/** Lets timers, I/O and other requests run before the caller continues (a macrotask, not a microtask). */
export const yieldToEventLoop = (): Promise<void> => nextMacrotask().then(() => undefined)

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
