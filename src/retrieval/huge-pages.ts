/**
 * Whether the HNSW index and rescoring rows sit on transparent huge pages (THP).
 *
 * hnswlib allocates an index's graph and vectors with malloc, in one block per index. A search walks
 * that block at random, so at scale (a 1M x 768 index is 3 GiB) most steps miss the TLB as well as
 * the cache. With THP in `madvise` mode (the default of most distributions) the kernel backs a block
 * with 2 MiB pages only when the program asks, and glibc asks for its large blocks when the process
 * starts with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (glibc 2.35 or newer). Measured at 1M x 768:
 * 10-20% more queries per second (docs/benchmarks/million-vectors.md, "Huge pages").
 *
 * The tunable is read by glibc when the process starts, so it cannot be switched on from here: `npm
 * start` and the Docker image set it, and the server logs what it found (`hugePageStatus`).
 */
import { readFileSync } from 'node:fs'

/** The tunable `npm start` and the Dockerfile set. */
export const HUGE_PAGE_TUNABLE = 'glibc.malloc.hugetlb=1'

export type ThpMode = 'always' | 'madvise' | 'never' | 'unknown'

/** The kernel's THP mode: the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled. */
export function thpMode(text = readOrEmpty('/sys/kernel/mm/transparent_hugepage/enabled')): ThpMode {
  const mode = /\[(\w+)\]/.exec(text)?.[1]
  return mode === 'always' || mode === 'madvise' || mode === 'never' ? mode : 'unknown'
}

/** True when a GLIBC_TUNABLES value (colon-separated name=value pairs) asks malloc for huge pages. */
export function tunableAsksForHugePages(tunables: string | undefined): boolean {
  if (tunables === undefined) return false
  const value = tunables
    .split(':')
    .map((pair) => pair.split('='))
    .filter(([name]) => name === 'glibc.malloc.hugetlb')
    .at(-1)?.[1]
  return value === '1' || value === '2'
}

export interface HugePageStatus {
  /** Whether large malloc blocks (the index) will be backed by huge pages. */
  enabled: boolean
  thp: ThpMode
  reason: string
}

/** What the server logs at start: whether index memory gets huge pages, and what to change if not. */
export function hugePageStatus(options: { thp: ThpMode; tunables: string | undefined; platform: NodeJS.Platform; glibc: string | undefined }): HugePageStatus {
  const { thp, tunables, platform, glibc } = options
  if (platform !== 'linux') return { enabled: false, thp, reason: 'transparent huge pages are a Linux feature' }
  if (thp === 'always') return { enabled: true, thp, reason: 'the kernel backs every large block with huge pages (THP always)' }
  if (thp === 'never') return { enabled: false, thp, reason: 'the kernel has THP off (never); index search is 10-20% slower at a million vectors' }
  if (thp === 'unknown') return { enabled: false, thp, reason: 'the kernel does not report a THP mode' }
  if (tunableAsksForHugePages(tunables) && !glibcAtLeast(glibc, 2, 35)) {
    return { enabled: false, thp, reason: `glibc ${glibc ?? '(not glibc)'} ignores glibc.malloc.hugetlb (it needs 2.35 or newer)` }
  }
  if (tunableAsksForHugePages(tunables)) return { enabled: true, thp, reason: `THP madvise and GLIBC_TUNABLES=${tunables}` }
  return {
    enabled: false,
    thp,
    reason: `THP is madvise but GLIBC_TUNABLES lacks ${HUGE_PAGE_TUNABLE}; start the server with it (npm start and the Docker image do) for 10-20% faster index search at scale`,
  }
}

/** The running glibc's version ("2.36"), or undefined under another C library. */
export function glibcVersion(): string | undefined {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return header?.glibcVersionRuntime
}

function glibcAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const [a, b] = (version ?? '').split('.').map(Number)
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return false
  return a > major || (a === major && b >= minor)
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
