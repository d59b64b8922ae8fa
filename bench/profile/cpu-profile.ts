/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and sums self time per function and per
 * part of the stack (onnxruntime, tokenizer, SQLite, HNSW, HTTP, GC, idle), so a profile can be
 * compared before and after a change as a table instead of a picture.
 */

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileSummary {
  /** Wall time the profile covers, ms. */
  totalMs: number
  /** Time not spent idle, ms. */
  busyMs: number
  byCategory: { category: string; ms: number; shareOfBusy: number }[]
  topFunctions: { name: string; category: string; ms: number; shareOfBusy: number }[]
}

/** Parts of the stack a search passes through, matched on the frame's file URL or name; first match wins. */
const CATEGORIES: [string, (frame: CallFrame) => boolean][] = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['onnxruntime (model run)', (f) => f.url.includes('onnxruntime')],
  ['tokenizer', (f) => f.url.includes('@huggingface/tokenizers') || f.url.includes('src/inference/tokenizer')],
  ['embedding pre/post-processing', (f) => /src\/inference\/(embedding-model|onnx|micro-batcher|query-cache|serving-embedder)/.test(f.url)],
  ['SQLite (better-sqlite3)', (f) => f.url.includes('better-sqlite3') || f.url.includes('src/store/')],
  ['HNSW (hnswlib-node)', (f) => f.url.includes('hnswlib-node') || f.url.includes('src/retrieval/hnsw')],
  ['retrieval, fusion, feedback', (f) => /src\/(retrieval|pipeline|rerank|calibration)\//.test(f.url)],
  ['HTTP, routing, JSON (fastify, node)', (f) => /fastify|find-my-way|avvio|light-my-request|pino|ajv|fast-json-stringify|node:(http|net|_http|stream)|node:internal\/(http|_http|streams|stream_base|net|dns|timers)/.test(f.url)],
  ['native / program', (f) => f.functionName === '(program)' || (f.url === '' && f.functionName !== '(root)')],
]

function categorise(frame: CallFrame): string {
  for (const [name, test] of CATEGORIES) if (test(frame)) return name
  return 'other JavaScript'
}

/** Path relative to the project (or the package inside node_modules), for readable names. */
function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const src = url.search(/\/(src|test)\//)
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '')
}

/** The part of a profile to sum: `lengthMs` long, ending `endsMsBeforeEnd` before the profile does. */
export interface ProfileWindow {
  endsMsBeforeEnd: number
  lengthMs: number
}

/**
 * Self time per node from the sample stream: each sample's time delta is charged to the node that was
 * on top of the stack, so the numbers add up to the profile's wall time.
 */
export function summariseProfile(profile: CpuProfile, top = 15, window?: ProfileWindow): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfMs = new Map<number, number>()
  // Sample timestamps, ms before the profile's end: a window cuts away start-up and shutdown.
  const endMs = profile.endTime / 1000
  let at = profile.startTime / 1000
  profile.samples.forEach((id, i) => {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000
    at += delta
    const beforeEnd = endMs - at
    if (window !== undefined && (beforeEnd < window.endsMsBeforeEnd || beforeEnd > window.endsMsBeforeEnd + window.lengthMs)) return
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta)
  })
  const categories = new Map<string, number>()
  const functions = new Map<string, { category: string; ms: number }>()
  let totalMs = 0
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame
    const category = categorise(frame)
    totalMs += ms
    categories.set(category, (categories.get(category) ?? 0) + ms)
    if (category === 'idle') continue
    const name = `${frame.functionName || '(anonymous)'} ${frame.url === '' ? '' : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`}`.trim()
    const entry = functions.get(name) ?? { category, ms: 0 }
    entry.ms += ms
    functions.set(name, entry)
  }
  const busyMs = totalMs - (categories.get('idle') ?? 0)
  const share = (ms: number) => (busyMs > 0 ? ms / busyMs : 0)
  return {
    totalMs,
    busyMs,
    byCategory: [...categories]
      .filter(([category]) => category !== 'idle')
      .map(([category, ms]) => ({ category, ms, shareOfBusy: share(ms) }))
      .sort((a, b) => b.ms - a.ms),
    topFunctions: [...functions]
      .map(([name, { category, ms }]) => ({ name, category, ms, shareOfBusy: share(ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  }
}
