import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type hnswlibNode from 'hnswlib-node'

export type HnswlibBinding = typeof hnswlibNode
export type HnswlibVariant = 'avx2' | 'sse'

/** Where scripts/install/build-hnswlib-avx2.mjs leaves the AVX2 copy of hnswlib-node's addon. */
export const AVX2_ADDON = path.join('node_modules', '.cache', 'funnel', 'hnswlib-avx2', 'build', 'Release', 'addon.node')

/** The CPU flags Linux reports for the first core (empty elsewhere). */
export function cpuFlags(cpuinfo = readCpuinfo()): Set<string> {
  const line = cpuinfo.split('\n').find((l) => l.startsWith('flags'))
  return new Set(line === undefined ? [] : line.slice(line.indexOf(':') + 1).trim().split(/\s+/))
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8')
  } catch {
    return ''
  }
}

/**
 * Which hnswlib addon to load: the AVX2 copy when it was built, the CPU has avx2 and fma, and
 * FUNNEL_HNSWLIB_AVX2 is not `off`; otherwise the SSE build npm made. With the reason, for the log.
 */
export function chooseVariant(options: { flags: Set<string>; avx2Built: boolean; setting: string | undefined }): { variant: HnswlibVariant; reason: string } {
  if (options.setting === 'off') return { variant: 'sse', reason: 'FUNNEL_HNSWLIB_AVX2=off' }
  if (!options.avx2Built) return { variant: 'sse', reason: 'no AVX2 addon was built at install (x64 Linux only)' }
  const missing = ['avx2', 'fma'].filter((f) => !options.flags.has(f))
  if (missing.length > 0) return { variant: 'sse', reason: `the CPU lacks ${missing.join(' and ')}` }
  return { variant: 'avx2', reason: 'the CPU has avx2 and fma' }
}

function packageRoot(): string {
  // src/retrieval or dist/src/retrieval -> the folder holding node_modules
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir)
  return dir
}

const require = createRequire(import.meta.url)

function load(): { binding: HnswlibBinding; variant: HnswlibVariant; reason: string } {
  const avx2 = path.join(packageRoot(), AVX2_ADDON)
  const choice = chooseVariant({ flags: cpuFlags(), avx2Built: existsSync(avx2), setting: process.env.FUNNEL_HNSWLIB_AVX2 })
  if (choice.variant === 'avx2') {
    try {
      return { binding: require(avx2) as HnswlibBinding, ...choice }
    } catch (error) {
      return { binding: require('hnswlib-node') as HnswlibBinding, variant: 'sse', reason: `the AVX2 addon failed to load: ${(error as Error).message}` }
    }
  }
  return { binding: require('hnswlib-node') as HnswlibBinding, ...choice }
}

/**
 * hnswlib-node's classes from the fastest addon this CPU can run. Both addons are the same source
 * and read and write the same index files; only the distance kernels differ (SSE vs AVX2 + FMA), and
 * the AVX2 copy carries the candidate pool (scripts/install/hnswlib-candidate-pool.mjs) when its
 * patch applied: `candidatePool` says whether the loaded addon has it.
 */
export const hnswlib = withPool(load())

function withPool<T extends { binding: HnswlibBinding }>(loaded: T): T & { candidatePool: boolean } {
  return { ...loaded, candidatePool: typeof (loaded.binding.HierarchicalNSW.prototype as Partial<PoolSearch>).setCandidatePool === 'function' }
}

/** What the candidate-pool patch adds to HierarchicalNSW: `on`, searchKnn walks at its ef and answers the best k of every node it scored. */
export interface PoolSearch {
  setCandidatePool(on: boolean): void
}
