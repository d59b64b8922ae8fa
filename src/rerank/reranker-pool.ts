import { errors } from '../errors.js'
import { installedModels, modelKind } from '../models/installed.js'
import { LoadOnce, isSafeModelId } from '../models/load-once.js'
import { findModel, modelDirectory, type Manifest } from '../models/manifest.js'
import { createReranker } from './registry.js'
import type { Reranker } from './reranker.js'

export const REMOTE_RERANKER_ID = 'remote'

/** A GGUF model id runs as a listwise stage; prefixed `pointwise:` it runs as the yes/no stage. */
export const POINTWISE_PREFIX = 'pointwise:'
const LISTWISE_PREFIX = 'listwise:'

/** Splits an optional `pointwise:` / `listwise:` prefix off a reranker id. */
export function llmStageOf(id: string): { mode: 'listwise' | 'pointwise' | undefined; modelId: string } {
  if (id.startsWith(POINTWISE_PREFIX)) return { mode: 'pointwise', modelId: id.slice(POINTWISE_PREFIX.length) }
  if (id.startsWith(LISTWISE_PREFIX)) return { mode: 'listwise', modelId: id.slice(LISTWISE_PREFIX.length) }
  return { mode: undefined, modelId: id }
}

export interface RerankerPoolOptions {
  modelsDir: string
  manifest: Manifest
  /** Listwise window and stride; `fence: false` sends the exact FIRST prompt (passages unfenced). */
  listwise: { windowSize: number; stride: number; fence?: boolean }
  remote?: { baseUrl: string; model: string; api: 'completions' | 'chat'; tokenizerId: string; timeoutMs: number }
  intraOpThreads?: number
  /** Run ONNX reranker sessions on worker threads (FUNNEL_ONNX_WORKER), so scoring does not block the event loop. */
  worker?: boolean
  log: (obj: object, msg: string) => void
}

/**
 * Rerankers by model id, loaded on first use (once, even under concurrent requests) and disposed on
 * close. A folder under the models directory is a cross-encoder when its config names a
 * *ForSequenceClassification architecture, a listwise LLM when it names *ForCausalLM, and otherwise an
 * embedding stage (cosine rescoring, with the manifest's prefixes and pooling for that model). An id
 * that resolves to a .gguf file (or a folder holding one) is a llama.cpp LLM stage: FIRST listwise,
 * or the pointwise yes/no stage when the id is prefixed `pointwise:`. The id `remote` is the
 * configured OpenAI-compatible server.
 */
export class RerankerPool {
  private readonly loaded = new LoadOnce<Reranker>()
  /** GGUF stages of the default cascade, loaded at start: id -> undefined (loaded), 'loading' or the failure. */
  private readonly preloads = new Map<string, string | undefined>()

  constructor(private readonly options: RerankerPoolOptions) {}

  /** Reranker ids the manifest lists (cross-encoders and LLMs, then embedders usable as embedding stages), plus `remote` when configured. */
  known(): string[] {
    const models = this.options.manifest.models
    const listed = [...models.filter((m) => m.task !== 'embedding'), ...models.filter((m) => m.task === 'embedding')].map((m) => m.id)
    return this.options.remote === undefined ? listed : [...listed, REMOTE_RERANKER_ID]
  }

  /** Reranker ids usable now: cross-encoder, causal-LM and embedder folders under the models directory, plus `remote` when configured. */
  async ready(): Promise<string[]> {
    const installed = await installedModels(this.options.modelsDir, ['cross-encoder', 'listwise-onnx', 'embedding'])
    const gguf = await installedModels(this.options.modelsDir, ['gguf'])
    const all = [...installed, ...gguf, ...gguf.map((id) => POINTWISE_PREFIX + id)].sort()
    return this.options.remote === undefined ? all : [...all, REMOTE_RERANKER_ID]
  }

  /** The catalogue's unknown_model error, naming what is usable now and what could be pulled. */
  private async unknownModelError(id: string) {
    const ready = await this.ready()
    return errors.unknownModel(id, ready, this.known().filter((m) => !ready.includes(m)))
  }

  /**
   * Starts loading the default cascade's llama.cpp stages now (a GGUF takes seconds to minutes to
   * open), so that readiness can wait for them and name one that fails.
   */
  async preloadLlmStages(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const { modelId } = llmStageOf(id)
      if (!isSafeModelId(modelId) || (await modelKind(modelDirectory(this.options.modelsDir, modelId))) !== 'gguf') continue
      this.preloads.set(id, 'loading')
      this.get(id).then(
        () => this.preloads.set(id, undefined),
        (error: unknown) => {
          this.preloads.set(id, `reranker '${id}' failed to load: ${(error as Error).message}`)
          this.options.log({ model: id, err: error }, 'reranker failed to load')
        },
      )
    }
  }

  /** Why the default cascade's LLM stages are not usable yet (undefined when they are). */
  notReady(): string | undefined {
    const states = [...this.preloads.entries()]
    const failed = states.find(([, state]) => state !== undefined && state !== 'loading')
    if (failed !== undefined) return failed[1]
    const loading = states.find(([, state]) => state === 'loading')
    return loading === undefined ? undefined : `loading reranker '${loading[0]}'`
  }

  get(id: string): Promise<Reranker> {
    return this.loaded.get(id, () => this.load(id))
  }

  private async load(id: string): Promise<Reranker> {
    const started = performance.now()
    const { fence, ...window } = this.options.listwise
    // Window, stride and the prompt's fencing, as every listwise kind takes them.
    const listwise = { ...window, ...(fence !== undefined && { prompt: { fence } }) }
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
      const { mode, modelId } = llmStageOf(id)
      if (!isSafeModelId(modelId)) throw await this.unknownModelError(id)
      const dir = modelDirectory(this.options.modelsDir, modelId)
      const kind = await modelKind(dir)
      if (mode !== undefined && kind !== 'gguf') throw await this.unknownModelError(id)
      if (kind === undefined) {
        if (this.known().includes(id)) throw errors.modelNotPulled(id, `npm run models:pull -- ${id}`, await this.ready())
        throw await this.unknownModelError(id)
      }
      const threads = this.options.intraOpThreads
      const common = { modelDir: dir, name: id, ...(threads !== undefined && threads > 0 && { intraOpThreads: threads }), ...(this.options.worker === true && { worker: true }) }
      // llama.cpp takes the same CPU budget as onnxruntime (FUNNEL_ONNX_THREADS); 0 = its own default.
      const llamaThreads = threads !== undefined && threads > 0 ? { threads } : {}
      reranker =
        kind === 'gguf'
          ? mode === 'pointwise'
            ? await createReranker('pointwise-llama-cpp', { model: dir, name: id, ...llamaThreads })
            : await createReranker('listwise-llama-cpp', { model: dir, name: id, ...listwise, ...llamaThreads })
          : kind === 'cross-encoder'
          ? await createReranker('cross-encoder', common)
          : kind === 'embedding'
            ? await createReranker('embedding', { ...common, ...this.embedderFacts(id) })
            : await createReranker('listwise-onnx', { ...common, ...listwise })
    }
    this.options.log({ model: id, ms: Math.round(performance.now() - started) }, 'reranker loaded')
    return reranker
  }

  /** What the manifest says about an embedder that its folder may not: query/document prefixes, pooling, max length. */
  private embedderFacts(id: string): { prefixes?: { query: string; document: string }; pooling?: 'mean' | 'cls'; maxLength?: number } {
    const entry = findModel(this.options.manifest, id)
    if (entry === undefined) return {}
    return {
      ...(entry.prefixes !== undefined && { prefixes: entry.prefixes }),
      ...((entry.pooling === 'mean' || entry.pooling === 'cls') && { pooling: entry.pooling }),
      maxLength: entry.max_length,
    }
  }

  async close(): Promise<void> {
    await this.loaded.close((reranker) => reranker.dispose())
  }
}

/**
 * Parses FUNNEL_RERANK_STAGES ("model:top_n,model:top_n[:rrf]") into the default cascade; a `:rrf`
 * suffix sets the stage's `fusion` (its ranking fused with the stages before it).
 */
export function parseRerankStages(spec: string): { model: string; top_n: number; fusion?: 'rrf' }[] {
  if (spec.trim() === '') return []
  return spec.split(',').map((raw) => {
    const fused = raw.trim().endsWith(':rrf')
    const part = fused ? raw.trim().slice(0, -':rrf'.length) : raw
    const at = part.lastIndexOf(':')
    const model = part.slice(0, at).trim()
    const topN = Number(part.slice(at + 1))
    if (at <= 0 || !Number.isInteger(topN) || topN < 1) {
      throw new Error(`FUNNEL_RERANK_STAGES: '${raw}' is not model:top_n or model:top_n:rrf (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2:100)`)
    }
    return { model, top_n: topN, ...(fused && { fusion: 'rrf' as const }) }
  })
}
