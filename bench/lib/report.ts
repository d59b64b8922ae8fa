/** What every bench result carries about the machine, and the Markdown table benches print. */
import os from 'node:os'

const round2 = (x: number): number => Math.round(x * 100) / 100

/** The one-minute, five-minute and fifteen-minute load averages, to 0.01. */
export const loadAverage = (): number[] => os.loadavg().map(round2)

/** CPUs, CPU model and node version, as written into result files. */
export const machineInfo = () => ({ cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model, node: process.version })

/** A GitHub Markdown table: a header row, a separator, then one row per entry. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}
