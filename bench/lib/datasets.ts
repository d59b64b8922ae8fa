/** The texts of a BEIR folder as benches use them: documents with ids, and query texts. */
import { documentText, loadQueries, readCorpus } from '../../src/eval/beir.js'

export interface Document {
  id: string
  text: string
}

/** The corpus in file order, title and text joined as Funnel indexes them; the first `limit` when given. */
export async function corpusDocuments(datasetDir: string, limit = Infinity): Promise<Document[]> {
  const docs: Document[] = []
  for await (const doc of readCorpus(datasetDir)) {
    if (docs.length >= limit) break
    docs.push({ id: doc.id, text: documentText(doc) })
  }
  return docs
}

/** Query texts in queries.jsonl order; the first `limit` when given. */
export async function queryTexts(datasetDir: string, limit = Infinity): Promise<string[]> {
  return [...(await loadQueries(datasetDir)).values()].slice(0, limit).map((q) => q.text)
}
