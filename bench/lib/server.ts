/**
 * A Funnel server as a child process for the HTTP benches: `src/server.ts` of this checkout (or of
 * another one, e.g. a git worktree of an older commit) on 127.0.0.1, ready when /readyz says so.
 *
 * @example
 *   const server = await startServer({ FUNNEL_DATA_DIR: dir, LOG_LEVEL: 'warn' })
 *   try { await fetch(`${server.url}/v1/collections`) } finally { await stopServer(server) }
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { repoRoot } from './paths.js'

export interface ServerProcess {
  child: ChildProcess
  url: string
  /** The server's pino lines, parsed, when started with `collectLogs` (else empty). */
  logs: Record<string, unknown>[]
}

export interface StartOptions {
  /** Extra node flags, such as `--cpu-prof`. */
  nodeArgs?: readonly string[]
  /** The checkout whose `src/server.ts` runs (default this one). */
  root?: string
  /**
   * Keep every log line, parsed. Off by default: under load, parsing the server's log in the
   * process that drives it would take CPU from the measurement; the log is drained instead.
   */
  collectLogs?: boolean
}

/** A loopback port free right now (the server binds it a moment later). */
async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

export async function startServer(env: Record<string, string>, options: StartOptions = {}): Promise<ServerProcess> {
  const root = options.root ?? repoRoot
  const port = await freePort()
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', path.join(root, 'src/server.ts')], {
    cwd: root,
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Record<string, unknown>[] = []
  if (options.collectLogs === true) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // not a log line
      }
    })
  } else {
    child.stdout!.resume()
  }
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${stderr}`)
    const res = await fetch(`${url}/readyz`).catch(() => undefined)
    if (res?.status === 200) return { child, url, logs }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`server never became ready: ${stderr}`)
}

/** SIGTERM, then waits for the exit (a graceful close saves the index). */
export async function stopServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGTERM')
  await exited
}
