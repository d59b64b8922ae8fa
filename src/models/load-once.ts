/** Model ids become folder names: one or two path segments, nothing that could climb out of the models directory. */
const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/

export const isSafeModelId = (id: string): boolean => MODEL_ID_PATTERN.test(id) && !id.split('/').includes('..')

/**
 * Loads each key at most once, even under concurrent callers, and forgets failures so a later call can
 * retry. Used for ONNX models, which are expensive to open and must be released exactly once.
 *
 * @example
 *   const models = new LoadOnce<EmbeddingModel>()
 *   await models.get('minilm', () => EmbeddingModel.load(dir, { id: 'minilm' }))
 *   await models.close((m) => m.dispose())
 */
export class LoadOnce<T> {
  private readonly pending = new Map<string, Promise<T>>()

  get(key: string, load: () => Promise<T>): Promise<T> {
    let promise = this.pending.get(key)
    if (promise === undefined) {
      promise = load()
      this.pending.set(key, promise)
      promise.catch(() => this.pending.delete(key))
    }
    return promise
  }

  keys(): string[] {
    return [...this.pending.keys()]
  }

  /** Disposes everything that loaded successfully; failed loads need no release. */
  async close(dispose: (value: T) => Promise<void>): Promise<void> {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const result of await Promise.allSettled(all)) if (result.status === 'fulfilled') await dispose(result.value)
  }
}
