import { createReadStream } from 'node:fs'
import { access, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { rankEntries, type Run, type ScoreTable } from './metrics.js'

/**
 * TREC run files, `qid Q0 docid rank score tag` one line per retrieved document, the input of
 * trec_eval and pytrec_eval. Documents are written in trec_eval's own order (score descending, ties by
 * doc id descending) so the rank column agrees with how the file will be scored. Scores are written
 * with the shortest text that reads back to the same double, so ties survive the round trip.
 *
 * @example
 *   await writeTrecRun('bench-results/scifact.run', run, { tag: 'bm25' })
 *   const again = await readTrecRun('bench-results/scifact.run')
 */

export interface TrecRunWriteOptions {
  /** The run name in the last column; no whitespace. Default 'funnel'. */
  tag?: string
  /** Keep at most this many documents per query. */
  depth?: number
}

const WHITESPACE = /\s/

function assertToken(kind: string, value: string): void {
  if (value.length === 0 || WHITESPACE.test(value)) {
    throw new RangeError(`TREC run ${kind}: ${JSON.stringify(value)} is not allowed; it must be non-empty with no whitespace`)
  }
}

const entriesOf = <T>(table: ReadonlyMap<string, T> | Readonly<Record<string, T>>): Iterable<[string, T]> =>
  table instanceof Map ? table.entries() : Object.entries(table)

/** The lines of a run file, each ending in a newline, queries in the run's own order. */
export function formatTrecRun(run: Run, options: TrecRunWriteOptions = {}): string {
  const { tag = 'funnel', depth = Infinity } = options
  assertToken('tag', tag)
  const lines: string[] = []
  for (const [queryId, scores] of entriesOf<ScoreTable>(run)) {
    assertToken('query id', queryId)
    rankEntries(scores)
      .slice(0, depth)
      .forEach(([docId, score], i) => {
        assertToken('doc id', docId)
        lines.push(`${queryId} Q0 ${docId} ${i + 1} ${score} ${tag}\n`)
      })
  }
  return lines.join('')
}

export async function writeTrecRun(path: string, run: Run, options: TrecRunWriteOptions = {}): Promise<void> {
  await writeFile(path, formatTrecRun(run, options), 'utf8')
}

/**
 * Reads a run file into query id -> doc id -> score. The rank and tag columns are checked but not
 * kept: like trec_eval, scoring orders by score. A document listed twice for a query is an error.
 */
export async function readTrecRun(path: string): Promise<Map<string, Map<string, number>>> {
  try {
    await access(path)
  } catch {
    throw new Error(`TREC run file not found: ${path}`)
  }
  const run = new Map<string, Map<string, number>>()
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })
  let lineNumber = 0
  for await (const line of lines) {
    lineNumber++
    if (line.trim() === '') continue
    const fail = (problem: string): never => {
      throw new Error(`${path}:${lineNumber}: ${problem}`)
    }
    const fields = line.trim().split(/\s+/)
    if (fields.length !== 6) fail(`expected 6 fields (qid Q0 docid rank score tag), got ${fields.length}`)
    const [queryId, , docId, rank, scoreText] = fields as [string, string, string, string, string, string]
    if (!/^\d+$/.test(rank)) fail(`rank must be a non-negative integer, got ${JSON.stringify(rank)}`)
    const score = Number(scoreText)
    if (scoreText === '' || Number.isNaN(score)) fail(`score must be a number, got ${JSON.stringify(scoreText)}`)
    let scores = run.get(queryId)
    if (scores === undefined) run.set(queryId, (scores = new Map()))
    if (scores.has(docId)) fail(`document '${docId}' appears twice for query '${queryId}'`)
    scores.set(docId, score)
  }
  return run
}
