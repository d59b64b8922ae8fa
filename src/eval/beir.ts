import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/**
 * Loaders for datasets in the BEIR layout: `corpus.jsonl` ({"_id","title","text"}), `queries.jsonl`
 * ({"_id","text"}) and `qrels/<split>.tsv` (query-id, corpus-id, score, after a header line).
 * Malformed input fails with the file and 1-based line number in the message.
 *
 * @example
 *   for await (const doc of readCorpus('../shared/datasets/scifact')) index(doc.id, documentText(doc))
 *   const qrels = await loadQrels('../shared/datasets/scifact', 'test')
 */

export interface BeirDocument {
  id: string
  /** '' when the record has no title (SciFact has none). */
  title: string
  /** May be '': such documents are kept (Cranfield has two) so corpus counts match the benchmark. */
  text: string
  /** Every field of the record other than _id, title and text, merged over its `metadata` object. */
  metadata: Record<string, unknown>
}

export interface BeirQuery {
  id: string
  text: string
  metadata: Record<string, unknown>
}

/** query id -> doc id -> graded label; the shape `evaluateRun` takes. */
export type BeirQrels = Map<string, Map<string, number>>

/**
 * The text to index for a document: title and text joined by one space, as BEIR's own models do,
 * or whichever of the two is non-empty.
 */
export const documentText = (doc: Pick<BeirDocument, 'title' | 'text'>): string =>
  doc.title.length > 0 && doc.text.length > 0 ? `${doc.title} ${doc.text}` : doc.title || doc.text

class BeirFormatError extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`)
    this.name = 'BeirFormatError'
  }
}

async function* readLines(file: string): AsyncGenerator<{ line: string; lineNumber: number }> {
  try {
    await access(file)
  } catch {
    throw new Error(`BEIR file not found: ${file}`)
  }
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })
  let lineNumber = 0
  for await (const line of lines) {
    lineNumber++
    yield { line, lineNumber }
  }
}

async function* readJsonRecords(file: string): AsyncGenerator<{ record: Record<string, unknown>; lineNumber: number }> {
  for await (const { line, lineNumber } of readLines(file)) {
    if (line.trim() === '') continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch (error) {
      throw new BeirFormatError(file, lineNumber, `invalid JSON (${(error as Error).message})`)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new BeirFormatError(file, lineNumber, 'expected a JSON object')
    }
    yield { record: parsed as Record<string, unknown>, lineNumber }
  }
}

function idField(record: Record<string, unknown>, file: string, lineNumber: number): string {
  const id = record._id
  if (typeof id === 'string' && id.length > 0) return id
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  throw new BeirFormatError(file, lineNumber, `"_id" must be a non-empty string, got ${JSON.stringify(id)}`)
}

function textField(record: Record<string, unknown>, field: string, file: string, lineNumber: number): string {
  const value = record[field]
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') {
    throw new BeirFormatError(file, lineNumber, `"${field}" must be a string, got ${JSON.stringify(value)}`)
  }
  return value
}

function metadataOf(record: Record<string, unknown>): Record<string, unknown> {
  const { _id, title, text, metadata, ...rest } = record
  const nested = metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata) ? metadata : {}
  return { ...rest, ...(nested as Record<string, unknown>) }
}

/** Streams `corpus.jsonl` one document at a time, so corpora larger than memory can be indexed. */
export async function* readCorpus(dir: string, file = 'corpus.jsonl'): AsyncGenerator<BeirDocument> {
  const path = join(dir, file)
  for await (const { record, lineNumber } of readJsonRecords(path)) {
    yield {
      id: idField(record, path, lineNumber),
      title: textField(record, 'title', path, lineNumber),
      text: textField(record, 'text', path, lineNumber),
      metadata: metadataOf(record),
    }
  }
}

/** Reads `queries.jsonl` into a map by query id; a duplicate id is an error. */
export async function loadQueries(dir: string, file = 'queries.jsonl'): Promise<Map<string, BeirQuery>> {
  const path = join(dir, file)
  const queries = new Map<string, BeirQuery>()
  for await (const { record, lineNumber } of readJsonRecords(path)) {
    const id = idField(record, path, lineNumber)
    if (queries.has(id)) throw new BeirFormatError(path, lineNumber, `duplicate query id '${id}'`)
    queries.set(id, { id, text: textField(record, 'text', path, lineNumber), metadata: metadataOf(record) })
  }
  return queries
}

const INTEGER = /^-?\d+$/

/**
 * Reads `qrels/<split>.tsv`. The first line is skipped when its score column is not an integer (the
 * BEIR header `query-id corpus-id score`). Labels are kept as given, 0 and negatives included; the
 * metrics treat labels <= 0 as non-relevant. A repeated (query, doc) pair is an error.
 */
export async function loadQrels(dir: string, split: string): Promise<BeirQrels> {
  const path = join(dir, 'qrels', `${split}.tsv`)
  const qrels: BeirQrels = new Map()
  for await (const { line, lineNumber } of readLines(path)) {
    if (line.trim() === '') continue
    const fields = line.split('\t')
    if (fields.length !== 3) {
      throw new BeirFormatError(path, lineNumber, `expected 3 tab-separated fields (query-id, corpus-id, score), got ${fields.length}`)
    }
    const [queryId, docId, score] = fields.map((field) => field.trim()) as [string, string, string]
    if (!INTEGER.test(score)) {
      if (lineNumber === 1) continue
      throw new BeirFormatError(path, lineNumber, `score must be an integer, got ${JSON.stringify(score)}`)
    }
    if (queryId === '' || docId === '') throw new BeirFormatError(path, lineNumber, 'query-id and corpus-id must be non-empty')
    let labels = qrels.get(queryId)
    if (labels === undefined) qrels.set(queryId, (labels = new Map()))
    if (labels.has(docId)) throw new BeirFormatError(path, lineNumber, `duplicate judgment for query '${queryId}', doc '${docId}'`)
    labels.set(docId, Number.parseInt(score, 10))
  }
  return qrels
}

/**
 * The first query and the first `count` documents of a BEIR folder, as rerank benchmarks use them:
 * each passage is "title. text" (a candidate's text as a reranker would be shown it).
 */
export async function firstQueryAndPassages(dir: string, count: number): Promise<{ query: string; passages: string[] }> {
  const passages: string[] = []
  for await (const doc of readCorpus(dir)) {
    if (passages.length >= count) break
    passages.push(`${doc.title}. ${doc.text}`.trim())
  }
  const [first] = (await loadQueries(dir)).values()
  if (first === undefined) throw new Error(`${join(dir, 'queries.jsonl')}: no queries`)
  return { query: first.text, passages }
}
