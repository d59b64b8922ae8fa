/**
 * Downloads a hub-sourced model from the manifest into the models directory, the way the Hugging Face
 * Hub serves it (`{endpoint}/{repo}/resolve/{revision}/{path}`, LFS files redirected to a CDN).
 *
 * Each file goes to `<file>.part` first, resumes with a Range request after an interruption, is
 * checked against the pinned sha256, fsynced and renamed into place, so a file at its final path is
 * always whole. A file already present with the pinned hash is never fetched again, which is what lets
 * a re-run succeed offline.
 *
 * @example
 *   const entry = findModel(readManifest(), 'sentence-transformers/all-MiniLM-L6-v2')!
 *   const result = await pullModel(entry, { modelsDir: './models', onProgress: (e) => console.error(e) })
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Static } from 'typebox'
import { modelDirectory, type ModelEntry, type ModelFileSchema } from './manifest.js'

type ModelFile = Static<typeof ModelFileSchema>

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co'
export const RECEIPT_FILE = '.funnel-pull.json'

export interface PullOptions {
  modelsDir: string
  /** Hub base URL; defaults to $HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string
  /** Sent as a Bearer token (gated repos); defaults to $HF_TOKEN. Not forwarded across origins. */
  token?: string
  /** Retries per file after network errors, 5xx, 408/429 and dropped connections. */
  retries?: number
  /** First backoff delay; doubles on each retry up to maxRetryDelayMs. */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  /** A response that sends no bytes for this long is abandoned and retried. */
  idleTimeoutMs?: number
  onProgress?: (event: PullEvent) => void
  fetchImpl?: typeof fetch
}

export type PullEvent =
  | { type: 'file-present'; file: string; size: number; sha256: string }
  | { type: 'file-start'; file: string; url: string; offset: number; totalBytes: number | undefined }
  | { type: 'file-progress'; file: string; receivedBytes: number; totalBytes: number | undefined }
  | { type: 'retry'; file: string; attempt: number; maxRetries: number; delayMs: number; reason: string }
  /** The download did not match its pinned hash; it is deleted and fetched once more from scratch. */
  | { type: 'checksum-mismatch'; file: string; expected: string; actual: string }
  | { type: 'file-done'; file: string; size: number; sha256: string }
  | { type: 'unpinned'; file: string; size: number; sha256: string }

export interface PulledFile {
  path: string
  size: number
  sha256: string
  pinned: boolean
  /** 'present': already on disk and verified, no request made. */
  status: 'downloaded' | 'present'
}

export interface PullResult {
  id: string
  revision: string
  directory: string
  files: PulledFile[]
  elapsedMs: number
}

export interface PullReceipt {
  id: string
  repo: string
  revision: string
  completedAt: string
  files: { path: string; size: number; sha256: string; pinned: boolean }[]
}

export type PullErrorCode = 'not_pullable' | 'bad_path' | 'http_error' | 'checksum_mismatch' | 'size_mismatch' | 'retries_exhausted'

export class ModelPullError extends Error {
  override name = 'ModelPullError'
  constructor(
    readonly code: PullErrorCode,
    message: string,
    /** Whether another attempt at the same request could succeed. */
    readonly retryable = false,
  ) {
    super(message)
  }
}

interface Context {
  id: string
  repo: string
  revision: string
  directory: string
  endpoint: string
  token: string | undefined
  retries: number
  retryDelayMs: number
  maxRetryDelayMs: number
  idleTimeoutMs: number
  emit: (event: PullEvent) => void
  fetch: typeof fetch
}

export async function pullModel(entry: ModelEntry, options: PullOptions): Promise<PullResult> {
  const started = performance.now()
  const source = entry.source
  if (source.kind !== 'hub') {
    throw new ModelPullError('not_pullable', `model '${entry.id}' is built locally (source.kind '${source.kind}'), not pulled from a hub`)
  }
  const ctx: Context = {
    id: entry.id,
    repo: source.repo,
    revision: source.revision,
    directory: modelDirectory(options.modelsDir, entry.id),
    endpoint: (options.endpoint || process.env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, ''),
    token: options.token ?? (process.env.HF_TOKEN || undefined),
    retries: options.retries ?? 4,
    retryDelayMs: options.retryDelayMs ?? 500,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 15_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    emit: options.onProgress ?? (() => {}),
    fetch: options.fetchImpl ?? fetch,
  }
  const previous = await readReceipt(ctx.directory)
  const files: PulledFile[] = []
  try {
    for (const file of source.files) {
      files.push(await pullFile(ctx, file, previous))
    }
  } catch (error) {
    // A failed pull keeps partial downloads (`.part` files resume next time) but no empty folders,
    // which would otherwise look like an installed model to a person listing the models directory.
    await removeEmptyDirectories(ctx.directory, path.resolve(options.modelsDir))
    throw error
  }
  await writeReceipt(ctx, files)
  return { id: entry.id, revision: ctx.revision, directory: ctx.directory, files, elapsedMs: performance.now() - started }
}

/** Removes `dir` and the folders inside it that hold no file, then empty parents up to (not including) `stop`. */
async function removeEmptyDirectories(dir: string, stop: string): Promise<void> {
  const prune = async (current: string): Promise<boolean> => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => undefined)
    if (entries === undefined) return false
    let empty = true
    for (const entry of entries) {
      if (!entry.isDirectory() || !(await prune(path.join(current, entry.name)))) empty = false
    }
    if (empty) await rmdir(current).catch(() => (empty = false))
    return empty
  }
  if (!(await prune(dir))) return
  for (let parent = path.dirname(dir); parent.startsWith(stop + path.sep); parent = path.dirname(parent)) {
    if (!(await rmdir(parent).then(() => true, () => false))) break
  }
}

async function pullFile(ctx: Context, file: ModelFile, previous: PullReceipt | undefined): Promise<PulledFile> {
  const target = localPath(ctx.directory, file.path)
  const present = await verifiedCopy(target, file, ctx.revision, previous)
  if (present !== undefined) {
    ctx.emit({ type: 'file-present', file: file.path, ...present })
    if (file.sha256 === null) ctx.emit({ type: 'unpinned', file: file.path, ...present })
    return { path: file.path, ...present, pinned: file.sha256 !== null, status: 'present' }
  }
  await mkdir(path.dirname(target), { recursive: true })
  const got = await downloadVerified(ctx, file, target)
  ctx.emit({ type: 'file-done', file: file.path, ...got })
  if (file.sha256 === null) ctx.emit({ type: 'unpinned', file: file.path, ...got })
  return { path: file.path, ...got, pinned: file.sha256 !== null, status: 'downloaded' }
}

/**
 * The file already on disk, if it can be trusted without the network: its hash matches the pinned
 * one, or (unpinned) the one this revision's receipt recorded.
 */
async function verifiedCopy(
  target: string,
  file: ModelFile,
  revision: string,
  previous: PullReceipt | undefined,
): Promise<{ size: number; sha256: string } | undefined> {
  const size = await fileSize(target)
  if (size === undefined || (file.size !== undefined && size !== file.size)) return undefined
  const expected = file.sha256 ?? (previous?.revision === revision ? previous.files.find((f) => f.path === file.path)?.sha256 : undefined)
  if (expected === undefined) return undefined
  const sha256 = await sha256OfFile(target)
  return sha256 === expected ? { size, sha256 } : undefined
}

/** Downloads to `.part`, checks size and hash (one fresh retry on mismatch), then moves it into place. */
async function downloadVerified(ctx: Context, file: ModelFile, target: string): Promise<{ size: number; sha256: string }> {
  const part = `${target}.part`
  for (let attempt = 1; ; attempt++) {
    await fetchWithRetries(ctx, file, part)
    const size = (await fileSize(part)) ?? 0
    const sha256 = await sha256OfFile(part)
    const badHash = file.sha256 !== null && sha256 !== file.sha256
    const badSize = file.size !== undefined && size !== file.size
    if (!badHash && !badSize) {
      await commit(part, target)
      return { size, sha256 }
    }
    await rm(part, { force: true })
    if (attempt < 2 && badHash) ctx.emit({ type: 'checksum-mismatch', file: file.path, expected: file.sha256!, actual: sha256 })
    if (attempt >= 2) {
      throw badHash
        ? new ModelPullError(
            'checksum_mismatch',
            `${ctx.id}: ${file.path} failed verification twice: expected sha256 ${file.sha256}, got ${sha256} (${size} bytes); nothing was kept`,
          )
        : new ModelPullError('size_mismatch', `${ctx.id}: ${file.path} is ${size} bytes, the manifest expects ${file.size}; nothing was kept`)
    }
  }
}

async function fetchWithRetries(ctx: Context, file: ModelFile, part: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchIntoPart(ctx, file, part)
      return
    } catch (error) {
      const retryable = !(error instanceof ModelPullError) || error.retryable
      const reason = describe(error)
      if (!retryable) throw error
      if (attempt >= ctx.retries) {
        throw new ModelPullError('retries_exhausted', `${ctx.id}: ${file.path} failed after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}; last error: ${reason}`)
      }
      const delayMs = Math.min(ctx.retryDelayMs * 2 ** attempt, ctx.maxRetryDelayMs)
      ctx.emit({ type: 'retry', file: file.path, attempt: attempt + 1, maxRetries: ctx.retries, delayMs, reason })
      await new Promise((resolve) => setTimeout(resolve, delayMs))
    }
  }
}

/** One request: continues the `.part` from its current length when the server honours Range. */
async function fetchIntoPart(ctx: Context, file: ModelFile, part: string): Promise<void> {
  const url = fileUrl(ctx, file.path)
  const abort = new AbortController()
  let idle = setTimeout(() => abort.abort(), ctx.idleTimeoutMs)
  const stillAlive = () => {
    clearTimeout(idle)
    idle = setTimeout(() => abort.abort(), ctx.idleTimeoutMs)
  }
  try {
    const opened = await request(ctx, url, part, abort.signal)
    if (opened === 'complete') return
    const { response, offset } = opened
    const length = Number(response.headers.get('content-length') ?? NaN)
    const totalBytes = Number.isFinite(length) ? offset + length : undefined
    ctx.emit({ type: 'file-start', file: file.path, url: response.url || url, offset, totalBytes })
    const received = await appendBody(response, part, offset, (receivedBytes) => {
      stillAlive()
      ctx.emit({ type: 'file-progress', file: file.path, receivedBytes, totalBytes })
    })
    if (totalBytes !== undefined && received < totalBytes) {
      throw new ModelPullError('http_error', `${url}: connection closed after ${received} of ${totalBytes} bytes`, true)
    }
  } catch (error) {
    if (abort.signal.aborted) throw new ModelPullError('http_error', `${url}: no data for ${ctx.idleTimeoutMs} ms`, true)
    throw error
  } finally {
    clearTimeout(idle)
  }
}

/**
 * Sends the GET (with Range when a `.part` exists) and settles where writing starts: at the `.part`'s
 * end for a 206, at zero for a 200 (a server may ignore Range). 'complete': the `.part` already holds
 * every byte.
 */
async function request(
  ctx: Context,
  url: string,
  part: string,
  signal: AbortSignal,
): Promise<{ response: Response; offset: number } | 'complete'> {
  const offset = (await fileSize(part)) ?? 0
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'funnel-models-pull' }
  if (ctx.token !== undefined) headers.authorization = `Bearer ${ctx.token}`
  if (offset > 0) headers.range = `bytes=${offset}-`
  const response = await ctx.fetch(url, { headers, redirect: 'follow', signal })
  if (response.status === 200) return { response, offset: 0 }
  const range = response.headers.get('content-range')
  if (response.status === 206 && contentRangeStart(range) === offset) return { response, offset }
  await response.body?.cancel()
  if (response.status === 416 && offset > 0 && contentRangeTotal(range) === offset) return 'complete'
  if (response.status !== 206 && response.status !== 416) throw httpError(url, response)
  await rm(part, { force: true })
  throw new ModelPullError('http_error', `${url}: HTTP ${response.status} does not fit the ${offset} bytes already fetched; restarting from scratch`, true)
}

function httpError(url: string, response: Response): ModelPullError {
  const status = response.status
  const retryable = status >= 500 || status === 408 || status === 429
  const hint =
    status === 404
      ? ' (check the repo, revision and file path in the manifest)'
      : status === 401 || status === 403
        ? ' (gated or private repository? set HF_TOKEN)'
        : ''
  return new ModelPullError('http_error', `${url}: HTTP ${status} ${response.statusText}${hint}`, retryable)
}

function fileUrl(ctx: Context, filePath: string): string {
  const segments = (value: string) => value.split('/').map(encodeURIComponent).join('/')
  return `${ctx.endpoint}/${segments(ctx.repo)}/resolve/${encodeURIComponent(ctx.revision)}/${segments(filePath)}`
}

/** Where a repository-relative path lives locally; refuses paths that would leave the model folder. */
function localPath(directory: string, filePath: string): string {
  const target = path.resolve(directory, ...filePath.split('/'))
  const relative = path.relative(path.resolve(directory), target)
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new ModelPullError('bad_path', `manifest file path '${filePath}' leaves the model directory`)
  }
  return target
}

/** Makes the verified `.part` durable and swaps it in with one rename. */
async function commit(part: string, target: string): Promise<void> {
  await rename(part, target)
  await syncDirectory(path.dirname(target))
}

async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}

async function writeReceipt(ctx: Context, files: PulledFile[]): Promise<void> {
  const receipt: PullReceipt = {
    id: ctx.id,
    repo: ctx.repo,
    revision: ctx.revision,
    completedAt: new Date().toISOString(),
    files: files.map(({ path: p, size, sha256, pinned }) => ({ path: p, size, sha256, pinned })),
  }
  await mkdir(ctx.directory, { recursive: true })
  const target = path.join(ctx.directory, RECEIPT_FILE)
  await writeFile(`${target}.part`, `${JSON.stringify(receipt, null, 2)}\n`)
  await rename(`${target}.part`, target)
}

export async function readReceipt(directory: string): Promise<PullReceipt | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(directory, RECEIPT_FILE), 'utf8')) as PullReceipt
    return Array.isArray(parsed.files) ? parsed : undefined
  } catch {
    return undefined
  }
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Streams a response body onto the `.part` (appending at `offset`), fsyncs it, returns its length. */
async function appendBody(response: Response, part: string, offset: number, onBytes: (received: number) => void): Promise<number> {
  const handle = await open(part, offset > 0 ? 'a' : 'w')
  let received = offset
  try {
    if (response.body !== null) {
      // Node's web streams are async-iterable; the DOM lib's ReadableStream type (pulled in by a dependency's types) says otherwise.
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await handle.write(chunk)
        received += chunk.byteLength
        onBytes(received)
      }
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  return received
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file)
    return info.isFile() ? info.size : undefined
  } catch {
    return undefined
  }
}

const contentRangeStart = (header: string | null): number | undefined => {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header?.trim() ?? '')
  return match ? Number(match[1]) : undefined
}

const contentRangeTotal = (header: string | null): number | undefined => {
  const match = /\/(\d+)$/.exec(header?.trim() ?? '')
  return match ? Number(match[1]) : undefined
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as { cause?: unknown }).cause
  return cause instanceof Error && cause.message !== error.message ? `${error.message} (${cause.message})` : error.message
}
