import weaviate, { type WeaviateClient } from 'weaviate-client'
import { errors } from '../../errors.js'

/** One Weaviate node: its REST base URL and gRPC port (from `http://host:8080?grpc=50051`). */
export interface WeaviateEndpoint {
  url: string
  host: string
  httpPort: number
  secure: boolean
  grpcPort: number
}

const DEFAULT_GRPC_PORT = 50051
/** How long a node that failed a call is left out of the rotation (unless a readiness probe finds it back). */
const AVOID_AFTER_FAILURE_MS = 10_000

/**
 * Parses FUNNEL_WEAVIATE_URLS: comma-separated `http(s)://host:port` with an optional `?grpc=PORT`
 * (default 50051) per node. Throws a config-style error naming the bad entry.
 */
export function parseWeaviateUrls(value: string): WeaviateEndpoint[] {
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0)
  if (entries.length === 0) throw errors.invalidRequest('FUNNEL_WEAVIATE_URLS', 'set it to the REST URLs of the Weaviate nodes, e.g. http://127.0.0.1:8080?grpc=50051')
  return entries.map((entry) => {
    let url: URL
    try {
      url = new URL(entry)
    } catch {
      throw errors.invalidValue('FUNNEL_WEAVIATE_URLS', entry, 'each entry is a URL like http://127.0.0.1:8080?grpc=50051')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw errors.invalidValue('FUNNEL_WEAVIATE_URLS', entry, 'URLs start with http:// or https://')
    const secure = url.protocol === 'https:'
    const grpc = url.searchParams.get('grpc')
    const grpcPort = grpc === null ? DEFAULT_GRPC_PORT : Number(grpc)
    if (!Number.isInteger(grpcPort) || grpcPort < 1 || grpcPort > 65535) throw errors.invalidValue('FUNNEL_WEAVIATE_URLS', entry, '?grpc= takes a port number')
    const httpPort = url.port === '' ? (secure ? 443 : 80) : Number(url.port)
    return { url: `${url.protocol}//${url.host}`, host: url.hostname, httpPort, secure, grpcPort }
  })
}

export interface NodePoolOptions {
  endpoints: readonly WeaviateEndpoint[]
  apiKey?: string
  /** Deadline for one call across its retries, in ms; each attempt on one node gets half of it. */
  timeoutMs: number
}

/**
 * Errors after which the same call may succeed on another node or a moment later: the node is down
 * or restarting, the cluster has no Raft leader yet, or too few replicas answered for the consistency
 * level. Everything else (a bad request, a missing collection) is final.
 */
const RETRYABLE =
  /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|fetch failed|other side closed|timed? ?out|timeout|consistency level|cannot achieve|not enough replicas|leader|no available|broadcast|context deadline|connection (refused|reset|closed)|unexpected EOF|status code: 5\d\d|\b50[234]\b|shutting down|not ready/i

/** `promise`, or undefined once `ms` have passed (the call itself goes on in the background). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export const isRetryable = (error: unknown): boolean => RETRYABLE.test(error instanceof Error ? `${error.name} ${error.message}` : String(error))

/**
 * Clients for every node of a cluster, used round robin, with failover: a call that fails with a
 * retryable error is tried again on the next node, with a short backoff, until the deadline. Callers
 * only pass idempotent operations (upserts by deterministic UUID, deletes by id, reads), so a retry
 * after a timeout whose write did land leaves the same state.
 */
export class NodePool {
  private readonly clients: (Promise<WeaviateClient> | undefined)[]
  /** Until when each node is skipped because it failed a call or the readiness probe found it down. */
  private readonly downUntil: number[]
  /** Until when each node is skipped because its replicas may lack acknowledged writes. */
  private readonly staleUntil: number[]
  /** Nodes the last readiness probe found down (so the next probe that finds one ready sees it return). */
  private readonly probedDown: boolean[]
  private next = 0

  constructor(private readonly options: NodePoolOptions) {
    this.clients = options.endpoints.map(() => undefined)
    this.downUntil = options.endpoints.map(() => 0)
    this.staleUntil = options.endpoints.map(() => 0)
    this.probedDown = options.endpoints.map(() => false)
  }

  private avoided(index: number, now = Date.now()): boolean {
    return this.downUntil[index]! > now || this.staleUntil[index]! > now
  }

  /**
   * The next node to try: round robin over the nodes not being avoided, or over all when every one
   * is. Avoiding matters beyond speed: weaviate-client retries a gRPC call on an unreachable node
   * five times with exponential backoff (up to the attempt's whole timeout) before it gives up; and
   * a search runs on the replica of the node it is sent to, which must hold every acknowledged write.
   */
  private pick(): number {
    const count = this.options.endpoints.length
    const now = Date.now()
    for (let i = 0; i < count; i++) {
      const index = this.next++ % count
      if (!this.avoided(index, now)) return index
    }
    return this.next++ % count
  }

  private avoid(index: number, ms: number): void {
    this.downUntil[index] = Date.now() + ms
  }

  /** Takes a node out of the rotation for `ms`: its replicas may lack writes the others acknowledged. */
  markStale(index: number, ms: number): void {
    this.staleUntil[index] = Math.max(this.staleUntil[index]!, Date.now() + ms)
  }

  /** Nodes calls are sent to now (all of them when every node is avoided). */
  inRotation(): number[] {
    const now = Date.now()
    const live = this.options.endpoints.map((_, i) => i).filter((i) => !this.avoided(i, now))
    return live.length > 0 ? live : this.options.endpoints.map((_, i) => i)
  }

  /**
   * Waits until `probe`, run on each node in the rotation alone, answers `expected` (a write is
   * visible there, or a delete is). A node that does not within `waitMs` is left out of the rotation
   * for `staleMs` and returned, so no call is sent to it meanwhile.
   */
  async awaitOnEveryNode(probe: (client: WeaviateClient) => Promise<number>, expected: number, waitMs: number, staleMs: number): Promise<WeaviateEndpoint[]> {
    const deadline = Date.now() + waitMs
    const laggards: WeaviateEndpoint[] = []
    await Promise.all(
      this.inRotation().map(async (index) => {
        for (let delay = 2; ; delay = Math.min(2 * delay, 100)) {
          const seen = await withTimeout(
            this.client(index).then(probe),
            Math.max(deadline - Date.now(), 0),
          ).catch(() => undefined)
          if (seen === expected) return
          if (Date.now() >= deadline) {
            this.markStale(index, staleMs)
            laggards.push(this.options.endpoints[index]!)
            return
          }
          await new Promise((resolve) => setTimeout(resolve, delay))
        }
      }),
    )
    return laggards
  }

  get endpoints(): readonly WeaviateEndpoint[] {
    return this.options.endpoints
  }

  /** Headers for the REST calls Funnel makes itself (readiness, GraphQL aggregates). */
  get headers(): Record<string, string> {
    return this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}
  }

  private client(index: number): Promise<WeaviateClient> {
    let client = this.clients[index]
    if (client === undefined) {
      const endpoint = this.options.endpoints[index]!
      const attemptSeconds = Math.max(1, Math.ceil(this.options.timeoutMs / 2000))
      client = weaviate.connectToCustom({
        httpHost: endpoint.host,
        httpPort: endpoint.httpPort,
        httpSecure: endpoint.secure,
        grpcHost: endpoint.host,
        grpcPort: endpoint.grpcPort,
        grpcSecure: endpoint.secure,
        ...(this.options.apiKey ? { authCredentials: new weaviate.ApiKey(this.options.apiKey) } : {}),
        timeout: { init: attemptSeconds, query: attemptSeconds, insert: attemptSeconds },
        // Connecting must not need the node up: a node that is down is skipped at call time.
        skipInitChecks: true,
      })
      // A failed connect is forgotten so the next call connects again.
      client.catch(() => {
        if (this.clients[index] === client) this.clients[index] = undefined
      })
      this.clients[index] = client
    }
    return client
  }

  /**
   * Runs `operation` on one node after another (round robin) until it succeeds, fails with a final
   * error (thrown as is), or the deadline passes: then it throws not_ready (503, which clients retry),
   * since the cluster is down or electing a leader rather than the request being wrong.
   */
  async run<T>(operation: (client: WeaviateClient, endpoint: WeaviateEndpoint) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.timeoutMs
    const count = this.options.endpoints.length
    let attempt = 0
    for (;;) {
      const index = this.pick()
      try {
        return await operation(await this.client(index), this.options.endpoints[index]!)
      } catch (error) {
        attempt++
        if (!isRetryable(error)) throw error
        this.avoid(index, AVOID_AFTER_FAILURE_MS)
        if (Date.now() >= deadline) {
          throw errors.notReady(`the Weaviate cluster did not answer within ${this.options.timeoutMs} ms (${attempt} attempts; last: ${String(error).slice(0, 300)})`)
        }
        // The first pass over the other nodes is immediate; after that, back off (a leader election takes seconds).
        if (attempt >= count) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** (attempt - count))))
      }
    }
  }

  /**
   * Nodes that answer /v1/.well-known/ready now. Calls avoid the others for `avoidMs`; a node found
   * ready is tried again at once, except one that was down at the previous probe: it restarted, its
   * replicas miss the writes made meanwhile until async replication repairs them, so it stays out of
   * the rotation for `rejoinGraceMs`.
   */
  async readyNodes(timeoutMs = 2000, avoidMs = AVOID_AFTER_FAILURE_MS, rejoinGraceMs = 0): Promise<WeaviateEndpoint[]> {
    const answers = await Promise.all(
      this.options.endpoints.map(async (endpoint) => {
        try {
          const response = await fetch(`${endpoint.url}/v1/.well-known/ready`, { headers: this.headers, signal: AbortSignal.timeout(timeoutMs) })
          await response.arrayBuffer()
          return response.ok
        } catch {
          return false
        }
      }),
    )
    answers.forEach((ready, i) => {
      if (ready) {
        this.downUntil[i] = 0
        if (this.probedDown[i] && rejoinGraceMs > 0) this.markStale(i, rejoinGraceMs)
      } else {
        this.avoid(i, avoidMs)
      }
      this.probedDown[i] = !ready
    })
    return this.options.endpoints.filter((_, i) => answers[i])
  }

  async close(): Promise<void> {
    const clients = this.clients.splice(0)
    await Promise.all(clients.map((client) => client?.then((c) => c.close()).catch(() => {})))
  }
}
