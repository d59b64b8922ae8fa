import { readFileSync } from 'node:fs'

/** Resident set size of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1])
  return pages * 4096
}

const sample = (text: string, name: string): number[] =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => Number(m[1]))

/**
 * Watches a running server from outside: /healthz latency every 100 ms (an upper bound on how long
 * the event loop was blocked), the server's own worst event-loop delay from /metrics
 * (nodejs_eventloop_lag_max_seconds, monitorEventLoopDelay, reset per scrape) and RSS.
 */
export class ServerWatch {
  private timer: NodeJS.Timeout | undefined
  private scrapeTimer: NodeJS.Timeout | undefined
  private worstHealthzMs = 0
  private worstLoopDelayMs = 0
  private rssStart = 0
  private probing = false

  constructor(
    private readonly url: string,
    private readonly pid: number,
  ) {}

  /** Starts watching; a first scrape resets the server's loop-delay maximum, so start-up is not counted. */
  async start(): Promise<void> {
    await fetch(`${this.url}/metrics`).then((res) => res.text())
    this.rssStart = rssBytes(this.pid)
    this.timer = setInterval(() => void this.probe(), 100)
    this.scrapeTimer = setInterval(() => void this.scrapeLoopDelay(), 5000)
  }

  private async probe(): Promise<void> {
    if (this.probing) return
    this.probing = true
    const started = performance.now()
    await fetch(`${this.url}/healthz`).catch(() => undefined)
    this.worstHealthzMs = Math.max(this.worstHealthzMs, performance.now() - started)
    this.probing = false
  }

  private async scrapeLoopDelay(): Promise<string> {
    const text = await (await fetch(`${this.url}/metrics`)).text()
    for (const v of sample(text, 'nodejs_eventloop_lag_max_seconds')) this.worstLoopDelayMs = Math.max(this.worstLoopDelayMs, v * 1000)
    return text
  }

  /** Whether every collection's document count equals its live index vectors. */
  async countsAgree(): Promise<boolean> {
    const text = await this.scrapeLoopDelay()
    const documents = [...text.matchAll(/^funnel_collection_documents\{collection="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1], m[2]])
    const vectors = new Map([...text.matchAll(/^funnel_collection_index_vectors\{collection="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1], m[2]]))
    return documents.length > 0 && documents.every(([name, n]) => vectors.get(name!) === n)
  }

  async stop(): Promise<{ worstHealthzMs: number; worstEventLoopDelayMs: number; rssStartMiB: number; rssEndMiB: number; countsAgree: boolean }> {
    clearInterval(this.timer)
    clearInterval(this.scrapeTimer)
    const countsAgree = await this.countsAgree()
    const mib = (bytes: number) => Math.round(bytes / 1048576)
    return { worstHealthzMs: Math.round(this.worstHealthzMs), worstEventLoopDelayMs: Math.round(this.worstLoopDelayMs), rssStartMiB: mib(this.rssStart), rssEndMiB: mib(rssBytes(this.pid)), countsAgree }
  }
}
