import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync, existsSync, renameSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { weaviateBinary, type WeaviateBinary } from './weaviate-install.js'

/**
 * A 3-node Weaviate cluster on loopback for development, CI and the fault tests, started the way
 * issue 15 found that works on this kind of machine:
 * - every node advertises and binds 127.0.0.1 (with the machine's IPv6 address a node crashes);
 * - node 0 starts first and the others only once its gossip port answers (a failed join is fatal);
 * - Raft bootstraps with all three listed and `RAFT_BOOTSTRAP_EXPECT=3`;
 * - a stopped node's ports are reused only after its process has exited.
 *
 * Ports are picked free on each `start` and kept in the state file, so `restart-node` brings a node
 * back on the same ports and data folder.
 *
 * @example
 *   const cluster = await WeaviateCluster.start({ dir: '/tmp/my-cluster' })
 *   process.env.FUNNEL_WEAVIATE_URLS = cluster.urls
 *   await cluster.killNode(2)
 *   await cluster.restartNode(2)
 *   await cluster.stop()
 */
export interface NodePorts {
  http: number
  grpc: number
  gossip: number
  data: number
  raft: number
  raftRpc: number
}

export interface NodeState {
  index: number
  name: string
  pid: number | null
  ports: NodePorts
  dataDir: string
  logFile: string
}

export interface ClusterState {
  version: string
  binary: string
  dir: string
  nodes: NodeState[]
}

export interface StartOptions {
  /** Folder for the state file, data folders and logs; default FUNNEL_CLUSTER_DIR or a folder under the OS temp dir. */
  dir?: string
  nodes?: number
  binary?: WeaviateBinary
  /** Kill the nodes when this process exits (tests); the CLI leaves them running. */
  ownedByThisProcess?: boolean
  readyTimeoutMs?: number
  log?: (line: string) => void
  /** Called with each attempt's ports before any node starts (tests use it to take a port, as a clash would). */
  onPortsPicked?: (nodes: readonly NodeState[], attempt: number) => void | Promise<void>
}

export interface NodeStatus {
  index: number
  name: string
  pid: number | null
  alive: boolean
  ready: boolean
  http: string
}

const STATE_FILE = 'cluster.json'
const DEFAULT_READY_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 30_000

export const defaultClusterDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.FUNNEL_CLUSTER_DIR || path.join(os.tmpdir(), 'funnel-weaviate-cluster')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** True while a process with this pid exists (a zombie counts, so children are reaped via their handle). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function listen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

/**
 * The first port of the kernel's ephemeral range (outgoing connections take their local port from
 * it): 32768 when it cannot be read.
 */
export function ephemeralPortFloor(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    return low !== undefined && Number.isInteger(low) && low > 11_000 ? low : 32768
  } catch {
    return 32768
  }
}

/**
 * Free loopback TCP ports, all distinct, in `count` pairs (p, p + 1): Weaviate expects a node's
 * data port right after its gossip port and its Raft RPC port right after its Raft port (in
 * localhost mode it dials a peer's RPC port as that peer's Raft port + 1). Every listener is held
 * open until all are picked.
 *
 * The ports are drawn at random from 10000 up to the ephemeral range, never from it: between this
 * pick and a node's bind, any outgoing connection on the machine (another cluster's nodes dial each
 * other all the time) may take an ephemeral port, which is how a node once failed with "bind:
 * address already in use". Two processes drawing the same pair at once is left to the retry in
 * {@link WeaviateCluster.start}.
 */
export async function freePortPairs(count: number, random: () => number = Math.random): Promise<[number, number][]> {
  const floor = 10_000
  const ceiling = ephemeralPortFloor() - 2
  const servers: net.Server[] = []
  const pairs: [number, number][] = []
  try {
    for (let tries = 0; pairs.length < count; tries++) {
      if (tries > 1000) throw new Error(`no ${count} free port pairs between ${floor} and ${ceiling} on 127.0.0.1`)
      const port = floor + Math.floor(random() * (ceiling - floor))
      const first = await listen(port)
      if (first === undefined) continue
      servers.push(first)
      const second = await listen(port + 1)
      if (second === undefined) continue
      servers.push(second)
      pairs.push([port, port + 1])
    }
    return pairs
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  }
}

/** A node that died because a port it was given had been taken in the meantime. */
export class PortClashError extends Error {}

const START_ATTEMPTS = 3

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

async function getJson(url: string, timeoutMs = 2000): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON (the ready endpoint answers with an empty body)
    }
    return { status: response.status, body }
  } catch {
    return undefined
  }
}

/**
 * The environment of node `i`, as issue 15 lists it, with this cluster's ports. At the first start
 * node 0 founds the cluster and the others join it; a restarted node joins the others, whichever it
 * is (node 0 restarted without a peer to join would stay alone, retrying its Raft join forever).
 */
function nodeEnvironment(node: NodeState, nodes: readonly NodeState[], restart: boolean): NodeJS.ProcessEnv {
  const peers = restart ? nodes.filter((n) => n.index !== node.index) : node.index === 0 ? [] : [nodes[0]!]
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CLUSTER_HOSTNAME: node.name,
    CLUSTER_IN_LOCALHOST: 'true',
    CLUSTER_ADVERTISE_ADDR: '127.0.0.1',
    CLUSTER_BIND_ADDR: '127.0.0.1',
    CLUSTER_GOSSIP_BIND_PORT: String(node.ports.gossip),
    CLUSTER_DATA_BIND_PORT: String(node.ports.data),
    ...(peers.length > 0 && { CLUSTER_JOIN: peers.map((peer) => `127.0.0.1:${peer.ports.gossip}`).join(',') }),
    RAFT_PORT: String(node.ports.raft),
    RAFT_INTERNAL_RPC_PORT: String(node.ports.raftRpc),
    RAFT_JOIN: nodes.map((n) => `${n.name}:${n.ports.raft}`).join(','),
    RAFT_BOOTSTRAP_EXPECT: String(nodes.length),
    GRPC_PORT: String(node.ports.grpc),
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: 'true',
    DEFAULT_VECTORIZER_MODULE: 'none',
    // Funnel creates every class itself; without this a write to a class dropped meanwhile would recreate it.
    AUTOSCHEMA_ENABLED: 'false',
    // BM25 through the exact WAND over a map-collection index, not BlockMax WAND: in v1.35.2 a term
    // still in the memtable carries no max impact, so BlockMax WAND drops recently written documents
    // from a full top-k (fixed upstream in weaviate#11780; flushed segments also bake k1 and b
    // transposed until compaction, weaviate#12022). Measured on SciFact: nDCG@10 0.659 right after an
    // import with BlockMax WAND, 0.683 after the 60 s memtable flush.
    USE_INVERTED_SEARCHABLE: 'false',
    USE_BLOCKMAX_WAND: 'false',
    ENABLE_MODULES: '',
    DISABLE_TELEMETRY: 'true',
    GO_PROFILING_DISABLE: 'true',
    PERSISTENCE_DATA_PATH: node.dataDir,
    LOG_FORMAT: 'text',
  }
}

export class WeaviateCluster {
  /** Child handles of nodes this process started: a dead child is only gone once reaped. */
  private readonly children = new Map<number, ChildProcess>()

  private constructor(
    readonly state: ClusterState,
    private readonly options: { ownedByThisProcess: boolean; log: (line: string) => void; readyTimeoutMs: number },
  ) {}

  /** `FUNNEL_WEAVIATE_URLS`: each node's REST URL with its gRPC port as `?grpc=`. */
  get urls(): string {
    return this.state.nodes.map((node) => nodeUrl(node)).join(',')
  }

  get stateFile(): string {
    return path.join(this.state.dir, STATE_FILE)
  }

  /** Picks free ports, starts node 0, waits for its gossip port, starts the rest, waits for 3 healthy nodes. */
  static async start(options: StartOptions = {}): Promise<WeaviateCluster> {
    const dir = path.resolve(options.dir ?? defaultClusterDir())
    const binary = options.binary ?? weaviateBinary()
    if (!existsSync(binary.path)) throw new Error(`weaviate-server not found at ${binary.path}; run npm run cluster -- install`)
    const previous = WeaviateCluster.readState(dir)
    if (previous?.nodes.some((node) => node.pid !== null && processExists(node.pid))) {
      throw new Error(`a cluster is already running from ${dir} (npm run cluster -- stop first)`)
    }
    mkdirSync(dir, { recursive: true })
    for (let attempt = 1; ; attempt++) {
      try {
        return await WeaviateCluster.startOnce(dir, binary, options, attempt)
      } catch (error) {
        if (!(error instanceof PortClashError) || attempt >= START_ATTEMPTS) throw error
        options.log?.(`${error.message.split('\n')[0]}; starting again on other ports (attempt ${attempt + 1} of ${START_ATTEMPTS})`)
        for (let i = 0; i < (options.nodes ?? 3); i++) {
          rmSync(path.join(dir, `node-${i}`), { recursive: true, force: true })
          const logFile = path.join(dir, `node-${i}.log`)
          if (existsSync(logFile)) renameSync(logFile, path.join(dir, `node-${i}.attempt-${attempt}.log`))
        }
      }
    }
  }

  private static async startOnce(dir: string, binary: WeaviateBinary, options: StartOptions, attempt: number): Promise<WeaviateCluster> {
    const count = options.nodes ?? 3
    const pairs = await freePortPairs(count * 3)
    const nodes: NodeState[] = Array.from({ length: count }, (_, i) => {
      const [[http, grpc], [gossip, data], [raft, raftRpc]] = pairs.slice(i * 3, i * 3 + 3) as [[number, number], [number, number], [number, number]]
      return {
        index: i,
        name: `weaviate-${i}`,
        pid: null,
        ports: { http, grpc, gossip, data, raft, raftRpc },
        dataDir: path.join(dir, `node-${i}`),
        logFile: path.join(dir, `node-${i}.log`),
      }
    })
    const cluster = new WeaviateCluster(
      { version: binary.version, binary: binary.path, dir, nodes },
      {
        ownedByThisProcess: options.ownedByThisProcess ?? false,
        log: options.log ?? (() => {}),
        readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      },
    )
    if (cluster.options.ownedByThisProcess) cluster.killNodesWhenThisProcessEnds()
    await options.onPortsPicked?.(nodes, attempt)
    try {
      cluster.launch(0)
      await cluster.waitFor(() => portAnswers(nodes[0]!.ports.gossip), `node 0 gossip port ${nodes[0]!.ports.gossip}`)
      for (let i = 1; i < count; i++) cluster.launch(i)
      await cluster.waitUntilHealthy()
    } catch (error) {
      await cluster.stop().catch(() => {})
      throw error
    }
    return cluster
  }

  /** The cluster a previous `start` left in `dir` (its nodes may have died since). */
  static load(dir: string = defaultClusterDir(), options: Omit<StartOptions, 'dir' | 'nodes' | 'binary'> = {}): WeaviateCluster {
    const state = WeaviateCluster.readState(path.resolve(dir))
    if (state === undefined) throw new Error(`no cluster state in ${dir} (npm run cluster -- start)`)
    return new WeaviateCluster(state, {
      ownedByThisProcess: options.ownedByThisProcess ?? false,
      log: options.log ?? (() => {}),
      readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    })
  }

  private static readState(dir: string): ClusterState | undefined {
    const file = path.join(dir, STATE_FILE)
    if (!existsSync(file)) return undefined
    return JSON.parse(readFileSync(file, 'utf8')) as ClusterState
  }

  private saveState(): void {
    const file = this.stateFile
    writeFileSync(`${file}.tmp`, JSON.stringify(this.state, null, 2) + '\n')
    renameSync(`${file}.tmp`, file)
  }

  private node(index: number): NodeState {
    const node = this.state.nodes[index]
    if (node === undefined) throw new Error(`no node ${index}; nodes are 0-${this.state.nodes.length - 1}`)
    return node
  }

  private launch(index: number, restart = false): void {
    const node = this.node(index)
    mkdirSync(node.dataDir, { recursive: true })
    const out = openSync(node.logFile, 'a')
    const child = spawn(this.state.binary, ['--scheme', 'http', '--host', '127.0.0.1', '--port', String(node.ports.http)], {
      env: nodeEnvironment(node, this.state.nodes, restart),
      stdio: ['ignore', out, out],
      // Its own process group: a Ctrl-C in the terminal that ran `start` does not reach the nodes.
      detached: true,
    })
    closeSync(out)
    if (child.pid === undefined) throw new Error(`could not start ${this.state.binary}`)
    this.children.set(index, child)
    child.once('exit', () => this.children.delete(index))
    if (!this.options.ownedByThisProcess) child.unref()
    node.pid = child.pid
    this.saveState()
    this.options.log(`started ${node.name} pid ${child.pid} http ${node.ports.http} grpc ${node.ports.grpc} gossip ${node.ports.gossip} (log ${node.logFile})`)
  }

  private async waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = this.options.readyTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      this.assertNodesAlive()
      if (await condition()) return
      await sleep(250)
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; logs in ${this.state.dir}`)
  }

  private assertNodesAlive(): void {
    for (const node of this.state.nodes) {
      if (node.pid !== null && !this.isAlive(node)) {
        const tail = existsSync(node.logFile) ? readFileSync(node.logFile, 'utf8').split('\n').slice(-15).join('\n') : ''
        node.pid = null
        this.saveState()
        const message = `${node.name} exited; the end of ${node.logFile}:\n${tail}`
        throw /address already in use/.test(tail) ? new PortClashError(message) : new Error(message)
      }
    }
  }

  private isAlive(node: NodeState): boolean {
    if (node.pid === null) return false
    const child = this.children.get(node.index)
    if (child !== undefined) return child.exitCode === null && child.signalCode === null
    return processExists(node.pid)
  }

  /** Node is up and answers /v1/.well-known/ready. */
  async nodeReady(index: number): Promise<boolean> {
    const node = this.node(index)
    const response = await getJson(`http://127.0.0.1:${node.ports.http}/v1/.well-known/ready`)
    return response?.status === 200
  }

  /** Names of the nodes `index` sees as HEALTHY in /v1/nodes. */
  async healthyNodes(index: number): Promise<string[]> {
    const node = this.node(index)
    const response = await getJson(`http://127.0.0.1:${node.ports.http}/v1/nodes`)
    if (response?.status !== 200) return []
    const nodes = (response.body as { nodes?: { name: string; status: string }[] }).nodes ?? []
    return nodes.filter((n) => n.status === 'HEALTHY').map((n) => n.name)
  }

  /** Every running node answers ready and sees every node of the cluster HEALTHY. */
  async waitUntilHealthy(timeoutMs = this.options.readyTimeoutMs): Promise<void> {
    const expected = this.state.nodes.length
    await this.waitFor(
      async () => {
        for (const node of this.state.nodes) {
          if (!(await this.nodeReady(node.index))) return false
          if ((await this.healthyNodes(node.index)).length !== expected) return false
        }
        return true
      },
      `${expected} ready and healthy nodes`,
      timeoutMs,
    )
  }

  /** Index of the node that is the Raft leader now (from /v1/cluster/statistics), or undefined while none is. */
  async raftLeader(): Promise<number | undefined> {
    for (const node of this.state.nodes) {
      if (!this.isAlive(node)) continue
      const response = await getJson(`http://127.0.0.1:${node.ports.http}/v1/cluster/statistics`)
      const statistics = (response?.body as { statistics?: { name: string; raft?: { state?: string } }[] } | undefined)?.statistics
      const leader = statistics?.find((s) => s.raft?.state === 'Leader')
      if (leader !== undefined) return this.state.nodes.find((n) => n.name === leader.name)?.index
    }
    return undefined
  }

  /** SIGKILL, as a crash would; returns once the process is gone. */
  async killNode(index: number): Promise<void> {
    await this.signalAndWait(this.node(index), 'SIGKILL', STOP_TIMEOUT_MS)
  }

  /** Stops node `index` if it runs, starts it again on the same ports and data, waits until the cluster is healthy. */
  async restartNode(index: number): Promise<void> {
    const node = this.node(index)
    if (this.isAlive(node)) await this.signalAndWait(node, 'SIGTERM', STOP_TIMEOUT_MS)
    await this.waitFor(async () => !(await portAnswers(node.ports.http)) && !(await portAnswers(node.ports.gossip)), `${node.name}'s ports to be free`)
    this.launch(index, true)
    await this.waitUntilHealthy()
  }

  /** SIGTERM to every node, SIGKILL to any still running after 30 s; returns once all have exited. */
  async stop(): Promise<void> {
    await Promise.all(this.state.nodes.map((node) => this.signalAndWait(node, 'SIGTERM', STOP_TIMEOUT_MS)))
  }

  async status(): Promise<NodeStatus[]> {
    return Promise.all(
      this.state.nodes.map(async (node) => ({
        index: node.index,
        name: node.name,
        pid: node.pid,
        alive: this.isAlive(node),
        ready: this.isAlive(node) && (await this.nodeReady(node.index)),
        http: nodeUrl(node),
      })),
    )
  }

  private async signalAndWait(node: NodeState, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    if (node.pid === null) return
    const pid = node.pid
    const child = this.children.get(node.index)
    const exited = child === undefined ? undefined : new Promise((resolve) => child.once('exit', resolve))
    if (this.isAlive(node)) {
      try {
        process.kill(pid, signal)
      } catch {
        // already gone
      }
      const deadline = Date.now() + timeoutMs
      while (this.isAlive(node) && Date.now() < deadline) await sleep(100)
      if (this.isAlive(node)) {
        this.options.log(`${node.name} did not exit ${timeoutMs} ms after ${signal}; sending SIGKILL`)
        process.kill(pid, 'SIGKILL')
        while (this.isAlive(node)) await sleep(100)
      }
      if (exited !== undefined) await exited
    }
    node.pid = null
    this.saveState()
    this.options.log(`${node.name} (pid ${pid}) stopped with ${signal}`)
  }

  /**
   * Kills the nodes when this process exits, or is stopped by SIGTERM/SIGINT (a test runner's
   * timeout): the nodes run in their own process group, so nothing else would stop them.
   */
  private killNodesWhenThisProcessEnds(): void {
    process.once('exit', () => this.killAllNow())
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const onSignal = () => {
        this.killAllNow()
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
      process.once(signal, onSignal)
    }
  }

  /** Synchronous last resort on process exit (tests that crash must not leave nodes behind). */
  private killAllNow(): void {
    for (const node of this.state.nodes) {
      if (node.pid !== null && this.isAlive(node)) {
        try {
          process.kill(node.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
  }
}

function nodeUrl(node: NodeState): string {
  return `http://127.0.0.1:${node.ports.http}?grpc=${node.ports.grpc}`
}
