/**
 * `npm run models:pull -- <id|all> [--models-dir DIR] [--endpoint URL] [--manifest FILE]`
 *
 * Pulls hub-sourced models from the manifest into the models directory (default $FUNNEL_MODELS_DIR or
 * ./models). Progress goes to stderr: one rewritten line on a terminal, a line every ~10% otherwise.
 * Exit status: 0 when every requested model is in place, 1 when a pull failed, 2 for a usage error.
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { findModel, readManifest, type ModelEntry } from '../src/models/manifest.js'
import { pullModel, type PullEvent } from '../src/models/pull.js'

const usage =
  'usage: npm run models:pull -- <id|all|OWNER/REPO/FILE.gguf> [--models-dir DIR] [--endpoint URL] [--manifest FILE] [--retries N]\n' +
  '       (a GGUF file from any hub repo: [--revision REV] [--sha256 HEX]; it lands in <models>/OWNER/REPO/)'

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'models-dir': { type: 'string' },
      endpoint: { type: 'string' },
      manifest: { type: 'string' },
      retries: { type: 'string' },
      revision: { type: 'string' },
      sha256: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(helpText(readManifest(values.manifest).models))
    return 0
  }
  if (positionals.length !== 1) throw new UsageError(`expected one model id or 'all'\n${usage}`)
  const retries = values.retries === undefined ? undefined : Number(values.retries)
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) {
    throw new UsageError(`--retries: '${values.retries}' is not a non-negative integer`)
  }
  const manifest = readManifest(values.manifest)
  const modelsDir = path.resolve(values['models-dir'] ?? loadConfig().modelsDir)
  const requested = positionals[0]!
  const entries = isGgufReference(requested) ? [ggufEntry(requested, values.revision, values.sha256)] : selectModels(manifest.models, requested)

  const failures: string[] = []
  for (const entry of entries) {
    if (entry.source.kind !== 'hub') {
      note(`${entry.id}: skipped, built locally rather than pulled (${buildCommand(entry)})`)
      continue
    }
    note(`${entry.id} @ ${entry.source.revision} -> ${displayPath(modelsDir)}`)
    const progress = new ProgressReporter(process.stderr)
    try {
      const result = await pullModel(entry, {
        modelsDir,
        endpoint: values.endpoint,
        retries,
        onProgress: (event) => progress.handle(event),
      })
      const fetched = result.files.filter((f) => f.status === 'downloaded').length
      note(`${entry.id}: ${result.files.length} files in place (${fetched} downloaded) in ${formatSeconds(result.elapsedMs / 1000)}`)
    } catch (error) {
      progress.endLine()
      const message = error instanceof Error ? error.message : String(error)
      note(`error: ${message}`)
      failures.push(entry.id)
    }
  }
  if (failures.length > 0) {
    note(`failed: ${failures.join(', ')}`)
    return 1
  }
  return 0
}

/** How a model that is not pulled gets onto disk. */
const buildCommand = (m: ModelEntry): string => (m.source.kind === 'dev-build' ? m.source.command : 'npm run models:build-default')

/** The --help text: usage, every model id with what it is and how it is obtained, and the hub settings. */
function helpText(models: readonly ModelEntry[]): string {
  const width = Math.max(...models.map((m) => m.id.length))
  const rows = models.map((m) => {
    const how = m.source.kind === 'hub' ? `pulled from ${m.source.repo}` : `built locally (${buildCommand(m)})`
    return `  ${m.id.padEnd(width)}  ${m.task}, ${how}`
  })
  return [
    usage,
    '',
    'Models in the manifest (models/manifest.json):',
    ...rows,
    '',
    'Environment:',
    '  HF_ENDPOINT       hub base URL (default https://huggingface.co; a mirror works the same way)',
    '  HF_TOKEN          bearer token for gated or private repos',
    '  FUNNEL_MODELS_DIR target folder when --models-dir is not given (default ./models)',
    '',
    'Files are checked against the pinned sha256, resumed after an interruption and renamed into place',
    'only when complete; a failed pull leaves no empty folders behind.',
    '',
  ].join('\n')
}

/** OWNER/REPO/path/to/file.gguf: a GGUF file in a hub repository, pulled without a manifest entry. */
const isGgufReference = (ref: string): boolean => /^[^/\s]+\/[^/\s]+\/.+\.gguf$/i.test(ref)

/** The manifest entry an OWNER/REPO/FILE.gguf reference stands for; the model id is OWNER/REPO. */
function ggufEntry(ref: string, revision: string | undefined, sha256: string | undefined): ModelEntry {
  const [owner, name, ...rest] = ref.split('/')
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) throw new UsageError(`--sha256: '${sha256}' is not 64 lowercase hex digits`)
  const repo = `${owner}/${name}`
  return {
    id: repo,
    task: 'gguf',
    source: { kind: 'hub', repo, revision: revision ?? 'main', files: [{ path: rest.join('/'), sha256: sha256 ?? null }] },
    max_length: 1,
  }
}

function selectModels(models: readonly ModelEntry[], requested: string): ModelEntry[] {
  if (requested === 'all') return [...models]
  const entry = findModel({ models: [...models] }, requested)
  if (entry === undefined) {
    const known = ['all', ...models.map((m) => m.id)].map((id) => `'${id}'`).join(', ')
    throw new UsageError(`unknown model '${requested}'; valid ids: ${known}`)
  }
  return [entry]
}

/** Turns pull events into stderr lines: bytes, rate and ETA per file; warnings for unpinned files. */
class ProgressReporter {
  private file = ''
  private offset = 0
  private startedAt = 0
  private lastDrawAt = 0
  private lastDecile = -1
  private lineOpen = false

  constructor(private readonly out: NodeJS.WriteStream) {}

  handle(event: PullEvent): void {
    switch (event.type) {
      case 'file-present':
        this.line(`  ${event.file}: present, verified (${formatBytes(event.size)})`)
        break
      case 'file-start':
        this.file = event.file
        this.offset = event.offset
        this.startedAt = performance.now()
        this.lastDecile = -1
        if (event.offset > 0) this.line(`  ${event.file}: resuming at ${formatBytes(event.offset)}`)
        this.progress(event.offset, event.totalBytes, true)
        break
      case 'file-progress':
        this.progress(event.receivedBytes, event.totalBytes, false)
        break
      case 'file-done':
        this.line(`  ${event.file}: done, ${formatBytes(event.size)} sha256 ${event.sha256.slice(0, 12)}…`)
        break
      case 'retry':
        this.line(`  ${event.file}: ${event.reason}; retry ${event.attempt}/${event.maxRetries} in ${formatSeconds(event.delayMs / 1000)}`)
        break
      case 'checksum-mismatch':
        this.line(`  ${event.file}: sha256 mismatch (expected ${event.expected}, got ${event.actual}); downloading again from scratch`)
        break
      case 'unpinned':
        this.line(
          `  warning: ${event.file} has no sha256 in the manifest; observed sha256 ${event.sha256}, size ${event.size}` +
            ' - pin it in models/manifest.json after checking it against the hub',
        )
        break
    }
  }

  endLine(): void {
    if (this.lineOpen) this.out.write('\n')
    this.lineOpen = false
  }

  private line(text: string): void {
    this.endLine()
    this.out.write(`${text}\n`)
  }

  private progress(received: number, total: number | undefined, force: boolean): void {
    const now = performance.now()
    const seconds = (now - this.startedAt) / 1000
    const rate = seconds > 0 ? (received - this.offset) / seconds : 0
    const share = total ? received / total : undefined
    const eta = total && rate > 0 ? formatSeconds((total - received) / rate) : '?'
    const text =
      `  ${this.file}: ${formatBytes(received)}${total ? ` / ${formatBytes(total)} (${Math.floor(share! * 100)}%)` : ''}` +
      `  ${formatBytes(rate)}/s  ETA ${eta}`
    if (this.out.isTTY) {
      if (!force && now - this.lastDrawAt < 100 && received !== total) return
      this.lastDrawAt = now
      this.out.write(`\r\x1b[2K${text}`)
      this.lineOpen = true
      return
    }
    // Without a terminal, a line per tenth (or per 16 MiB when the size is unknown) keeps logs short.
    const decile = share !== undefined ? Math.floor(share * 10) : Math.floor(received / (16 * 1024 * 1024))
    const first = this.lastDecile === -1
    if (decile === this.lastDecile) return
    this.lastDecile = decile
    if (!first || received === total) this.out.write(`${text}\n`)
  }
}

function displayPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir)
  return relative === '' ? '.' : relative.startsWith('..') ? dir : relative
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
}

function note(text: string): void {
  process.stderr.write(`${text}\n`)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    note(`error: ${message}`)
    process.exitCode = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1
  },
)
