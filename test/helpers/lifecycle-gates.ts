import type { FastifyInstance } from 'fastify'
import type { InputKind } from '../../src/inference/embedding-model.js'
import type { LifecyclePoint } from '../../src/pipeline/collection-lifecycle.js'

/** A promise with its resolve function outside, for holding an operation until a test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

export interface EmbedGate {
  /** Resolves when the held embed call has started. */
  reached: Promise<void>
  /** Lets the held call run (idempotent). */
  release(): void
}

/**
 * Holds the next embed call of `kind` on the app's default model until `release()`: an injected delay
 * with a known end, so a race is driven step by step instead of by sleeps.
 */
export async function gateNextEmbed(app: FastifyInstance, kind: InputKind): Promise<EmbedGate> {
  const model = await app.models.embedder()
  const original = model.embed.bind(model)
  const reached = deferred()
  const released = deferred()
  let held = false
  model.embed = async (texts, k = 'document') => {
    if (k === kind && !held) {
      held = true
      reached.resolve()
      await released.promise
    }
    return original(texts, k)
  }
  return { reached: reached.promise, release: () => released.resolve() }
}

/** Resolves the first time the lifecycle reports `point` (optionally for one lock mode). */
export function onLifecyclePoint(app: FastifyInstance, handlers: Partial<Record<LifecyclePoint, (collection: string, detail?: string) => Promise<void> | void>>): void {
  app.collections.setProbe((point, collection, detail) => handlers[point]?.(collection, detail))
}
