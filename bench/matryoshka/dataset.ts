import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { createInterface } from 'node:readline'

/**
 * A minimal BEIR reader for the Matryoshka bench (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), kept
 * here so the bench does not depend on where the eval command's files live. Document text is built as
 * `npm run eval` builds it (title + ' ' + text when both are present; an empty document becomes
 * '(empty)'), so vectors match what the eval indexes.
 */
export interface Doc {
  id: string
  text: string
}

async function* jsonLines(file: string): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })
  for await (const line of lines) if (line.trim() !== '') yield JSON.parse(line) as Record<string, unknown>
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v))

export async function readDocs(datasetDir: string): Promise<Doc[]> {
  const docs: Doc[] = []
  for await (const r of jsonLines(path.join(datasetDir, 'corpus.jsonl'))) {
    const title = str(r.title)
    const body = str(r.text)
    const text = title.length > 0 && body.length > 0 ? `${title} ${body}` : title || body
    docs.push({ id: str(r._id), text: text.trim() === '' ? '(empty)' : text })
  }
  return docs
}

/** query id -> doc id -> label, for the split. */
export async function readQrels(datasetDir: string, split: string): Promise<Map<string, Map<string, number>>> {
  const qrels = new Map<string, Map<string, number>>()
  const text = await readFile(path.join(datasetDir, 'qrels', `${split}.tsv`), 'utf8')
  for (const [i, line] of text.split('\n').entries()) {
    const cols = line.trim().split('\t')
    if (cols.length < 3 || (i === 0 && Number.isNaN(Number(cols[2])))) continue
    const [q, d, label] = cols as [string, string, string]
    if (!qrels.has(q)) qrels.set(q, new Map())
    qrels.get(q)!.set(d, Number(label))
  }
  return qrels
}

/** The judged queries of the split, in qrels file order. */
export async function readJudgedQueries(datasetDir: string, split: string): Promise<Doc[]> {
  const qrels = await readQrels(datasetDir, split)
  const text = new Map<string, string>()
  for await (const r of jsonLines(path.join(datasetDir, 'queries.jsonl'))) text.set(str(r._id), str(r.text))
  return [...qrels.keys()].filter((q) => text.has(q)).map((q) => ({ id: q, text: text.get(q)! }))
}

/**
 * A fixed corpus subset for models too slow to embed a whole corpus on a small machine: every document
 * judged in the split's qrels (corpus order), then the others in a seeded hash order (FNV-1a of the id),
 * up to `size`. Subsets are nested (a smaller one is a prefix of a larger one), so a partly embedded
 * subset is itself a valid smaller subset, and every model gets the same ids. Scores on a subset are
 * higher than on the whole corpus (fewer distractors) and are labelled as such.
 */
export function corpusSubset(docs: readonly Doc[], qrels: Map<string, Map<string, number>>, size: number): Doc[] {
  const judged = new Set<string>()
  for (const labels of qrels.values()) for (const d of labels.keys()) judged.add(d)
  const fnv = (s: string) => {
    let h = 0x811c9dc5
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
    return h
  }
  const others = docs.filter((d) => !judged.has(d.id)).sort((a, b) => fnv(a.id) - fnv(b.id) || (a.id < b.id ? -1 : 1))
  return [...docs.filter((d) => judged.has(d.id)), ...others].slice(0, Math.max(size, 0))
}
