/** What every bench result carries about the machine, and the Markdown table benches print. */
import os from 'node:os'
import { glibcVersion, hugePageStatus, thpMode } from '../../src/retrieval/huge-pages.js'

const round2 = (x: number): number => Math.round(x * 100) / 100

/** The one-minute, five-minute and fifteen-minute load averages, to 0.01. */
export const loadAverage = (): number[] => os.loadavg().map(round2)

/** The machine, and whether large allocations (HNSW indexes) sit on huge pages, which moves search speed at scale. */
export const machineInfo = () => ({
  cpus: os.availableParallelism(),
  cpu: os.cpus()[0]?.model,
  node: process.version,
  huge_pages: hugePageStatus({ thp: thpMode(), tunables: process.env.GLIBC_TUNABLES, platform: process.platform, glibc: glibcVersion() }).enabled,
})

/** A GitHub Markdown table: a header row, a separator, then one row per entry. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}
