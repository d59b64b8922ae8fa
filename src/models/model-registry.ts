import { EmbeddingModel } from '../inference/embedding-model.js'
import type { BatchInfo } from '../inference/micro-batcher.js'
import { ServingEmbedder, type ServingEmbedderOptions } from '../inference/serving-embedder.js'
import type { SessionOptions } from '../inference/onnx.js'
import { ensureDefaultModel } from '../inference/static-model/ensure-default-model.js'
import { errors } from '../errors.js'
import { hasOnnx, installedModels } from './installed.js'
import { LoadOnce, isSafeModelId } from './load-once.js'
import { findModel, modelDirectory, type Manifest, type ModelEntry } from './manifest.js'

export interface ModelRegistryOptions {
  modelsDir: string
  manifest: Manifest
  defaultEmbeddingModel: string
  buildDefaultModel: boolean
  batchSize: number
  maxPaddingRatio?: number
  session: SessionOptions
  /** Micro-batching and the query cache (defaults: on, 32 texts, 1024 queries). */
  serving?: Pick<ServingEmbedderOptions, 'microBatch' | 'maxBatchTexts' | 'queryCacheSize'>
  onEmbedBatch?: (model: string, info: BatchInfo) => void
  onQueryCacheLookup?: (model: string, hit: boolean) => void
  log: (obj: object, msg: string) => void
  /** Reports each ONNX run of a model (wall ms, batch size), e.g. to Prometheus. */
  onOnnxRun?: (model: string, ms: number, batchSize: number) => void
}

/**
 * Owns every loaded embedding model: loads on first use (once, even under concurrent requests),
 * answers which ids are usable, and disposes all sessions on close.
 *
 * Known ids are the manifest's embedding entries plus any folder under the models directory that holds
 * an ONNX export (so users can drop in their own models without editing the manifest).
 */
export class ModelRegistry {
  private readonly loaded = new LoadOnce<ServingEmbedder>()

  constructor(private readonly options: ModelRegistryOptions) {}

  get defaultModelId(): string {
    return this.options.defaultEmbeddingModel
  }

  manifestEntry(id: string): ModelEntry | undefined {
    return findModel(this.options.manifest, id)
  }

  /** Embedding model ids listed in the manifest (whether or not their files are present). */
  knownEmbeddingModels(): string[] {
    return this.options.manifest.models.filter((m) => m.task === 'embedding').map((m) => m.id)
  }

  /** Ids of models that are loaded now. */
  loadedModels(): string[] {
    return this.loaded.keys()
  }

  /**
   * Embedding models usable now: folders under the models directory holding an embedder (loaded models
   * among them), and the built-in default when it may be built on first use.
   */
  async readyEmbeddingModels(): Promise<string[]> {
    const buildable = this.options.buildDefaultModel
      ? this.options.manifest.models.filter((m) => m.task === 'embedding' && m.source.kind === 'build').map((m) => m.id)
      : []
    const installed = await installedModels(this.options.modelsDir, ['embedding'])
    return [...new Set([...installed, ...buildable])].sort()
  }

  /** The catalogue's unknown_model error, naming what is usable now and what could be pulled. */
  private async unknownModelError(id: string) {
    const ready = await this.readyEmbeddingModels()
    return errors.unknownModel(id, ready, this.knownEmbeddingModels().filter((m) => !ready.includes(m)))
  }

  async embedder(id: string = this.defaultModelId): Promise<ServingEmbedder> {
    // Ids become folder names: refuse anything that could climb out of the models directory.
    if (!isSafeModelId(id)) throw await this.unknownModelError(id)
    return this.loaded.get(id, () => this.load(id))
  }

  /** Throws the catalogue's unknown_model error unless `id` can be loaded. */
  async assertUsable(id: string): Promise<void> {
    await this.embedder(id)
  }

  private async load(id: string): Promise<ServingEmbedder> {
    const entry = this.manifestEntry(id)
    const dir = await this.resolveDirectory(id, entry)
    const started = performance.now()
    const model = await EmbeddingModel.load(dir, {
      id,
      ...(entry?.max_length !== undefined && { maxLength: entry.max_length }),
      ...(entry?.pooling !== undefined && entry.pooling !== 'in-graph' && { pooling: entry.pooling }),
      ...(entry?.normalize !== undefined && { normalize: entry.normalize }),
      ...(entry?.prefixes !== undefined && { prefixes: entry.prefixes }),
      ...(entry?.matryoshka_dims !== undefined && { matryoshkaDims: entry.matryoshka_dims }),
      batchSize: this.options.batchSize,
      ...(this.options.maxPaddingRatio !== undefined && { maxPaddingRatio: this.options.maxPaddingRatio }),
      session: this.options.session,
      ...(this.options.onOnnxRun !== undefined && { onRun: (ms: number, size: number) => this.options.onOnnxRun!(id, ms, size) }),
    })
    this.options.log({ model: id, dims: model.dims, pooling: model.pooling, ms: Math.round(performance.now() - started) }, 'embedding model loaded')
    const { onEmbedBatch, onQueryCacheLookup } = this.options
    return new ServingEmbedder(model, {
      ...this.options.serving,
      ...(onEmbedBatch !== undefined && { onBatch: (info: BatchInfo) => onEmbedBatch(id, info) }),
      ...(onQueryCacheLookup !== undefined && { onCacheLookup: (hit: boolean) => onQueryCacheLookup(id, hit) }),
    })
  }

  private async resolveDirectory(id: string, entry: ModelEntry | undefined): Promise<string> {
    if (entry?.source.kind === 'build') {
      if (!this.options.buildDefaultModel && !(await hasOnnx(modelDirectory(this.options.modelsDir, id)))) {
        throw errors.modelNotPulled(id, 'npm run models:build-default (or set FUNNEL_BUILD_DEFAULT_MODEL=true)', await this.readyEmbeddingModels())
      }
      return ensureDefaultModel(this.options.modelsDir, this.options.log)
    }
    const dir = modelDirectory(this.options.modelsDir, id)
    if (await hasOnnx(dir)) return dir
    if (entry !== undefined) {
      const how = entry.source.kind === 'dev-build' ? entry.source.command : `npm run models:pull -- ${id}`
      throw errors.modelNotPulled(id, how, await this.readyEmbeddingModels())
    }
    throw await this.unknownModelError(id)
  }

  async close(): Promise<void> {
    await this.loaded.close((embedder) => embedder.close())
  }
}
