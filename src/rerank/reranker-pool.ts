import { errors } from '../errors.js'
import { installedModels, modelKind } from '../models/installed.js'
import { LoadOnce, isSafeModelId } from '../models/load-once.js'
import { modelDirectory, type Manifest } from '../models/manifest.js'
import { createReranker } from './registry.js'
import type { Reranker } from './reranker.js'

export const REMOTE_RERANKER_ID = 'remote'

export interface RerankerPoolOptions {
  modelsDir: string
  manifest: Manifest
  listwise: { windowSize: number; stride: number }
  remote?: { baseUrl: string; model: string; api: 'completions' | 'chat'; tokenizerId: string; timeoutMs: number }
  intraOpThreads?: number
  log: (obj: object, msg: string) => void
}

/**
 * Rerankers by model id, loaded on first use (once, even under concurrent requests) and disposed on
 * close. A folder under the models directory is a cross-encoder when its config names a
 * *ForSequenceClassification architecture and a listwise LLM when it names *ForCausalLM; the id
 * `remote` is the configured OpenAI-compatible server.
 */
export class RerankerPool {
  private readonly loaded = new LoadOnce<Reranker>()

  constructor(private readonly options: RerankerPoolOptions) {}

  /** Reranker ids the manifest lists, plus `remote` when configured. */
  known(): string[] {
    const listed = this.options.manifest.models.filter((m) => m.task !== 'embedding').map((m) => m.id)
    return this.options.remote === undefined ? listed : [...listed, REMOTE_RERANKER_ID]
  }

  /** Reranker ids usable now: cross-encoder and causal-LM folders under the models directory, plus `remote` when configured. */
  async ready(): Promise<string[]> {
    const installed = await installedModels(this.options.modelsDir, ['cross-encoder', 'listwise-onnx'])
    return this.options.remote === undefined ? installed : [...installed, REMOTE_RERANKER_ID]
  }

  /** The catalogue's unknown_model error, naming what is usable now and what could be pulled. */
  private async unknownModelError(id: string) {
    const ready = await this.ready()
    return errors.unknownModel(id, ready, this.known().filter((m) => !ready.includes(m)))
  }

  get(id: string): Promise<Reranker> {
    return this.loaded.get(id, () => this.load(id))
  }

  private async load(id: string): Promise<Reranker> {
    const started = performance.now()
    const { listwise } = this.options
    let reranker: Reranker
    if (id === REMOTE_RERANKER_ID) {
      const remote = this.options.remote
      if (remote === undefined) throw await this.unknownModelError(id)
      reranker = await createReranker('listwise-remote', {
        name: id,
        ...listwise,
        tokenizerDir: modelDirectory(this.options.modelsDir, remote.tokenizerId),
        server: { baseUrl: remote.baseUrl, model: remote.model, api: remote.api, timeoutMs: remote.timeoutMs },
      })
    } else {
      if (!isSafeModelId(id)) throw await this.unknownModelError(id)
      const dir = modelDirectory(this.options.modelsDir, id)
      const kind = await modelKind(dir)
      if (kind === undefined || kind === 'embedding') {
        if (this.known().includes(id)) throw errors.modelNotPulled(id, `npm run models:pull -- ${id}`, await this.ready())
        throw await this.unknownModelError(id)
      }
      const threads = this.options.intraOpThreads
      reranker =
        kind === 'cross-encoder'
          ? await createReranker('cross-encoder', { modelDir: dir, name: id, ...(threads !== undefined && threads > 0 && { intraOpThreads: threads }) })
          : await createReranker('listwise-onnx', { modelDir: dir, name: id, ...listwise, ...(threads !== undefined && threads > 0 && { intraOpThreads: threads }) })
    }
    this.options.log({ model: id, ms: Math.round(performance.now() - started) }, 'reranker loaded')
    return reranker
  }

  async close(): Promise<void> {
    await this.loaded.close((reranker) => reranker.dispose())
  }
}

/** Parses FUNNEL_RERANK_STAGES ("model:top_n,model:top_n") into the default cascade. */
export function parseRerankStages(spec: string): { model: string; top_n: number }[] {
  if (spec.trim() === '') return []
  return spec.split(',').map((part) => {
    const at = part.lastIndexOf(':')
    const model = part.slice(0, at).trim()
    const topN = Number(part.slice(at + 1))
    if (at <= 0 || !Number.isInteger(topN) || topN < 1) {
      throw new Error(`FUNNEL_RERANK_STAGES: '${part}' is not model:top_n (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2:100)`)
    }
    return { model, top_n: topN }
  })
}
