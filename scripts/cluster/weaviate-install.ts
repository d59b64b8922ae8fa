import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** The Weaviate release the cluster scripts and the backend tests were written against. */
export const DEFAULT_WEAVIATE_VERSION = 'v1.35.2'

export interface WeaviateBinary {
  version: string
  /** Folder `go install` writes into (GOBIN). */
  dir: string
  /** The `weaviate-server` executable. */
  path: string
}

/**
 * Where the Weaviate server binary lives: `FUNNEL_WEAVIATE_BIN` (an executable) wins, else
 * `FUNNEL_WEAVIATE_BIN_DIR` or `~/.cache/funnel/weaviate-<version>`, the version coming from
 * `FUNNEL_WEAVIATE_VERSION`.
 */
export function weaviateBinary(env: NodeJS.ProcessEnv = process.env): WeaviateBinary {
  const version = env.FUNNEL_WEAVIATE_VERSION || DEFAULT_WEAVIATE_VERSION
  const dir = env.FUNNEL_WEAVIATE_BIN_DIR || path.join(os.homedir(), '.cache', 'funnel', `weaviate-${version}`)
  const binary = env.FUNNEL_WEAVIATE_BIN || path.join(dir, 'weaviate-server')
  return { version, dir: path.dirname(binary), path: binary }
}

/**
 * Builds `weaviate-server` with `go install` into the cache folder, unless it is already there. A
 * fresh build takes 10-35 minutes and ~3 GB of Go caches, so CI caches the folder and this skips it.
 */
export async function installWeaviate(binary: WeaviateBinary = weaviateBinary(), log: (line: string) => void = console.error): Promise<'present' | 'built'> {
  if (existsSync(binary.path)) {
    log(`weaviate-server ${binary.version} is present: ${binary.path}`)
    return 'present'
  }
  const module = `github.com/weaviate/weaviate/cmd/weaviate-server@${binary.version}`
  log(`building ${module} into ${binary.dir} (10-35 minutes on a fresh machine)`)
  const started = Date.now()
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('go', ['install', module], { env: { ...process.env, GOBIN: binary.dir }, stdio: 'inherit' })
    child.once('error', (error) => reject(new Error(`cannot run go (is Go 1.24+ on PATH?): ${error.message}`)))
    child.once('exit', resolve)
  })
  if (code !== 0 || !existsSync(binary.path)) throw new Error(`go install ${module} failed with exit code ${code}`)
  log(`built ${binary.path} in ${Math.round((Date.now() - started) / 1000)} s`)
  return 'built'
}
