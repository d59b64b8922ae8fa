import type Database from 'better-sqlite3'
import { errors } from '../errors.js'
import { LoopSlicer } from '../event-loop.js'
import { analyze, analyzeInSlices, countTerms, defaultAnalysisSettings, type AnalysisSettings } from './text-analysis.js'

export interface LexicalDocument {
  id: string
  text: string
}

export interface Bm25Hit {
  id: string
  /** -bm25(): higher is better. */
  score: number
  /** 1-based. */
  rank: number
}

export interface WeightedTerm {
  /** An analysed term, as `analyzeQuery` or `termCounts` return it. */
  term: string
  weight: number
}

/** What pseudo-relevance feedback reads from a lexical index (RM3 takes this, not the class). */
export interface TermStatistics {
  analyzeQuery(text: string): string[]
  /** doc id -> analysed term -> frequency; unknown ids are absent. */
  termCounts(ids: readonly string[]): Map<string, Map<string, number>>
  /** term -> number of documents containing it (0 for unknown terms). */
  documentFrequencies(terms: readonly string[]): Map<string, number>
  count(): number
}

/** Analysis settings as a comparable string, whatever the key order of the object they came in. */
const settingsKey = (settings: AnalysisSettings): string => JSON.stringify([settings.lowercase, settings.stemming, settings.stopwords])

/**
 * A document's analysis done ahead of its write, outside the transaction: the terms as FTS5 stores
 * them (joined by spaces) and its distinct terms (its document-frequency changes), joined by spaces
 * too: a batch is analysed whole before it is written, and 1,000 x 10 KB documents held ~1.4 million
 * separate term strings until the write, which the garbage collector then had to mark (pauses of
 * 100-190 ms on the event loop in profiles).
 */
interface PreparedTerms {
  settings: string
  joined: string
  distinct: string
}

/** Terms analysed ahead of a write, by document object and analysis settings. */
const preAnalyzed = new WeakMap<object, PreparedTerms>()

/** Terms joined or deduplicated between two slices in {@link prepareTerms}. */
const PREPARE_PIECE_TERMS = 16_384

/** Joins and deduplicates `terms` a piece at a time (a 1 MB document has ~150,000 terms). */
async function prepareTerms(settings: string, terms: readonly string[], slice: () => Promise<void>): Promise<PreparedTerms> {
  const pieces: string[] = []
  const distinct = new Set<string>()
  for (let start = 0; start < terms.length; start += PREPARE_PIECE_TERMS) {
    const piece = terms.slice(start, start + PREPARE_PIECE_TERMS)
    pieces.push(piece.join(' '))
    for (const term of piece) distinct.add(term)
    if (start + PREPARE_PIECE_TERMS < terms.length) await slice()
  }
  return { settings, joined: pieces.join(' '), distinct: [...distinct].join(' ') }
}

/**
 * Analyses `docs` under `settings` ahead of `Bm25Index.upsert`, in event-loop slices: analysis is the
 * bulk of a lexical write (a 1,000 x 10 KB batch is ten million characters through the tokenizer and
 * Porter stemmer), and the write itself runs in a synchronous SQLite transaction. `upsert` then uses
 * the stored terms of these same objects instead of analysing them again.
 */
export async function preAnalyze(docs: readonly LexicalDocument[], settings: AnalysisSettings, slicer = new LoopSlicer()): Promise<void> {
  const key = settingsKey(settings)
  const slice = () => slicer.slice()
  for (const doc of docs) {
    const terms = await analyzeInSlices(doc.text, settings, slice)
    await slicer.slice()
    preAnalyzed.set(doc, await prepareTerms(key, terms, slice))
    await slicer.slice()
  }
}

/**
 * A write whose document-frequency changes name more distinct terms than this queues them instead of
 * applying them in its transaction (see {@link Bm25Index.drainDocumentFrequencies}): a 256 Ki-character
 * document alone has ~19,000 distinct terms, ~100 ms of df upserts here. Smaller writes apply df
 * inline: each upsert lands on a random page of a large B-tree (5-20 us), and queueing every write's
 * changes made a 1,000 x 10 KB batch's df lag its acknowledgement by ~34 s (inline, in 12,000-character
 * chunks, the same batch was acknowledged in 28 s with every transaction under 50 ms).
 */
export const INLINE_DF_TERMS = 4_096
/** df changes applied per {@link Bm25Index.drainDocumentFrequencies} step (~10 ms into a large df table; 2,048 took 44 ms). */
export const DF_DRAIN_STEP_TERMS = 512

const KEY_PATTERN = /^[a-z][a-z0-9_]{0,62}$/

/** Every table of the index with `key`, whatever settings it was built with (no open instance needed). */
export function dropBm25Tables(db: Database.Database, key: string): void {
  for (const suffix of ['', '_docs', '_df', '_df_pending', '_settings']) db.exec(`DROP TABLE IF EXISTS fts_${key}${suffix}`)
}
/** SQLite's default SQLITE_MAX_COMPOUND_SELECT: the weighted search is one UNION ALL arm per term. */
export const MAX_WEIGHTED_TERMS = 500
const SCHEMA_VERSION = 1

// Terms reach FTS5 already analysed and joined by single spaces, so FTS5 must split on spaces only
// and change nothing else: the `ascii` tokenizer keeps every non-ASCII character, and tokenchars
// adds the ASCII punctuation our tokenizer leaves inside words ("don't", "3.14", "1,000", "snake_case").
const TOKENIZER = `ascii tokenchars '''.,_'`

/** Quotes a term as an FTS5 string, so no query syntax (AND, NEAR, *, :, ^, parentheses) survives. */
const quoteTerm = (term: string): string => `"${term.replaceAll('"', '""')}"`

const merge = (terms: readonly WeightedTerm[]): WeightedTerm[] => {
  const weights = new Map<string, number>()
  for (const { term, weight } of terms) {
    if (!Number.isFinite(weight)) throw errors.invalidValue('terms.weight', weight, 'weights must be finite numbers')
    if (term.length > 0) weights.set(term, (weights.get(term) ?? 0) + weight)
  }
  return [...weights].filter(([, weight]) => weight !== 0).map(([term, weight]) => ({ term, weight }))
}

/**
 * A persistent BM25 index of one collection, on SQLite FTS5 (`bm25()`, which fixes k1 = 1.2 and
 * b = 0.75; Lucene/Pyserini baselines use k1 = 0.9, b = 0.4, and FTS5 offers no way to change them —
 * `bm25()`'s arguments are per-column weights, which scale a column's whole contribution).
 *
 * Text is analysed in JS (see text-analysis.ts) and the analysed terms are what FTS5 stores, so
 * stop words are gone from the index as in Lucene (they also do not count toward document length),
 * and the terms read back for feedback are exactly the terms a query can name.
 *
 * Every method is synchronous, and writes run in a savepoint, so a caller can make them part of the
 * same transaction as its own document write (and a rollback there undoes them).
 *
 * Tables: `fts_<key>` (FTS5), `fts_<key>_docs` (id <-> rowid), `fts_<key>_df` (document frequency per
 * term), `fts_<key>_df_pending` (df changes not yet applied) and `fts_<key>_settings` (analysis
 * settings; reopening with different ones throws). The df table exists because FTS5's own, an
 * `fts5vocab` table, counts a term's documents by walking its posting list on every lookup: 0.1-1 ms
 * per term, and RM3 needs the df of every term of ten documents (~700 terms on SciFact), which made it
 * ~190 ms a query.
 *
 * df is only read by pseudo-relevance feedback (BM25 scoring uses FTS5's own statistics). A write with
 * few distinct terms applies its df changes in its transaction; one with more than
 * {@link INLINE_DF_TERMS} (a long document) stores them in the pending table in that same transaction
 * (one row, so a crash keeps them) and the owner applies them afterwards, a step per event-loop turn,
 * with {@link drainDocumentFrequencies}. Until then df lags the index, like a search engine's refresh
 * interval; while anything is pending, every later write queues too, so changes apply in write order.
 *
 * @example
 *   const index = new Bm25Index(db, 'papers', { lowercase: true, stemming: 'porter', stopwords: 'english' })
 *   index.upsert([{ id: 'd1', text: 'Running shoes' }])
 *   index.search('run', 10) // -> [{ id: 'd1', score: 0.42, rank: 1 }]
 */
export class Bm25Index implements TermStatistics {
  readonly key: string
  readonly settings: AnalysisSettings
  private readonly settingsKey: string
  private readonly db: Database.Database
  private readonly table: string
  private readonly statements: Statements
  private readonly weightedStatements = new Map<number, Database.Statement>()
  private readonly upsertBatch: (docs: readonly LexicalDocument[]) => void
  private readonly deleteBatch: (ids: readonly string[]) => number
  private readonly drainStep: (maxTerms: number) => boolean
  private readonly mergeStep: (pages: number) => void

  constructor(db: Database.Database, key: string, settings: AnalysisSettings = defaultAnalysisSettings) {
    if (!KEY_PATTERN.test(key)) {
      throw errors.invalidValue('collection key', key, 'a key is 1-63 characters of a-z, 0-9 and _, starting with a letter')
    }
    this.db = db
    this.key = key
    this.settings = { lowercase: true, stemming: settings.stemming, stopwords: settings.stopwords }
    this.settingsKey = settingsKey(this.settings)
    this.table = `fts_${key}`
    this.createTables()
    this.statements = prepareStatements(db, this.table)
    this.upsertBatch = db.transaction((docs: readonly LexicalDocument[]) => {
      const dfChanges = new Map<string, number>()
      for (const doc of docs) this.upsertOne(doc, dfChanges)
      this.recordDfChanges(dfChanges)
    })
    this.deleteBatch = db.transaction((ids: readonly string[]) => {
      const dfChanges = new Map<string, number>()
      let deleted = 0
      for (const id of ids) deleted += this.deleteOne(id, dfChanges) ? 1 : 0
      this.recordDfChanges(dfChanges)
      return deleted
    })
    this.drainStep = db.transaction((maxTerms: number) => this.applyQueuedDf(maxTerms))
    const merge = db.prepare(`INSERT INTO ${this.table} (${this.table}, rank) VALUES ('merge', ?)`)
    this.mergeStep = db.transaction((pages: number) => void merge.run(pages))
  }

  /**
   * One step of FTS5 segment merging: at most `pages` leaf pages written (~64 pages took <= 27 ms
   * here). Automatic merging is off for this index (it ran inside a write's COMMIT: merge stretches of
   * 40-190 ms during a 1,000 x 10 KB upsert), so the owner calls this in the background after writes.
   * Says whether it did any work (FTS5: `total_changes()` moves by 2 or more when it did).
   */
  mergeSegments(pages = 64): boolean {
    const before = this.statements.totalChanges.get() as number
    this.mergeStep(pages)
    return (this.statements.totalChanges.get() as number) - before >= 2
  }

  /** Distinct terms whose df changes are queued and not yet applied (0 when df is current). */
  pendingDocumentFrequencyTerms(): number {
    return (this.statements.pendingTerms.get() as number | null) ?? 0
  }

  /**
   * Applies up to `maxTerms` queued df changes (the oldest first) in one transaction and says whether
   * any remain. Each step commits what it applied together with what is left, so a crash between
   * steps resumes where it stopped. Must not be called inside another transaction of this database.
   */
  drainDocumentFrequencies(maxTerms: number = DF_DRAIN_STEP_TERMS): boolean {
    if (!Number.isInteger(maxTerms) || maxTerms < 1) throw errors.invalidValue('maxTerms', maxTerms, 'it must be an integer >= 1')
    return this.drainStep(maxTerms)
  }

  /** The analysed terms of a query, duplicates kept (a repeated term counts twice, as in Lucene). */
  analyzeQuery(text: string): string[] {
    return analyze(text, this.settings)
  }

  /** Inserts documents, replacing the indexed text of ids that exist. */
  upsert(docs: readonly LexicalDocument[]): void {
    if (docs.length > 0) this.upsertBatch(docs)
  }

  /** Removes documents; unknown ids are ignored. Returns how many were removed. */
  delete(ids: readonly string[]): number {
    return ids.length === 0 ? 0 : this.deleteBatch(ids)
  }

  /**
   * The best `limit` documents for `query` by BM25 over the OR of its analysed terms. A query with no
   * terms left after analysis (empty, punctuation, only stop words) matches nothing; one with more
   * than `maxTerms` distinct terms is refused, because FTS5 walks one posting list per term
   * synchronously (32,000 terms held the event loop for 13 s).
   */
  search(query: string, limit: number, maxTerms: number = MAX_WEIGHTED_TERMS): Bm25Hit[] {
    assertLimit(limit)
    const terms = this.analyzeQuery(query)
    if (terms.length === 0) return []
    const counts = countTerms(terms)
    if (counts.size > maxTerms) throw errors.tooManyQueryTerms(counts.size, maxTerms)
    // A repeated term still counts once per occurrence (as in Lucene), but as a weight: FTS5 would
    // walk the same posting list again for every copy in an OR.
    if (counts.size < terms.length) return this.searchTerms([...counts].map(([term, weight]) => ({ term, weight })), limit)
    const rows = this.statements.search.all(terms.map(quoteTerm).join(' OR '), limit) as { id: string; score: number }[]
    return rows.map((row, i) => ({ id: row.id, score: row.score, rank: i + 1 }))
  }

  /**
   * The best `limit` documents by sum over terms of weight x (that term's BM25 contribution). FTS5 has
   * no per-term weights, so each term is matched on its own — a one-term bm25() is exactly that
   * term's summand in a multi-term bm25() — and SQLite adds the weighted parts per document. The
   * result is exact (no candidate cut-off); with every weight 1 it equals `search`.
   */
  searchTerms(terms: readonly WeightedTerm[], limit: number): Bm25Hit[] {
    assertLimit(limit)
    const merged = merge(terms)
    if (merged.length === 0) return []
    if (merged.length > MAX_WEIGHTED_TERMS) {
      throw errors.invalidRequest('terms', `${merged.length} distinct terms exceeds the maximum of ${MAX_WEIGHTED_TERMS}`)
    }
    const params: (string | number)[] = []
    for (const { term, weight } of merged) params.push(weight, quoteTerm(term))
    params.push(limit)
    const rows = this.weightedStatement(merged.length).all(...params) as { id: string; score: number }[]
    return rows.map((row, i) => ({ id: row.id, score: row.score, rank: i + 1 }))
  }

  termCounts(ids: readonly string[]): Map<string, Map<string, number>> {
    const counts = new Map<string, Map<string, number>>()
    if (ids.length === 0) return counts
    const rows = this.statements.termsOf.all(JSON.stringify(ids)) as { id: string; terms: string }[]
    for (const { id, terms } of rows) {
      const tf = new Map<string, number>()
      if (terms.length > 0) for (const term of terms.split(' ')) tf.set(term, (tf.get(term) ?? 0) + 1)
      counts.set(id, tf)
    }
    return counts
  }

  /**
   * These statistics with the term counts of `ids` read ahead, one document per `slice()` and a long
   * document's terms counted in pieces between slices: RM3 over a 1 MB feedback document (~150,000
   * terms) is otherwise one synchronous stretch. `termCounts` answers those ids from what was read
   * (any other id is read then); a document deleted meanwhile is simply absent.
   */
  async prefetchTermCounts(ids: readonly string[], slice: () => Promise<void>): Promise<TermStatistics> {
    const prefetched = new Map<string, Map<string, number>>()
    for (const id of new Set(ids)) {
      const terms = this.statements.termsOfId.get(id) as string | undefined
      if (terms !== undefined) prefetched.set(id, await countSpaceSeparated(terms, slice))
      await slice()
    }
    return {
      analyzeQuery: (text) => this.analyzeQuery(text),
      termCounts: (wanted) => {
        const missing = wanted.filter((id) => !prefetched.has(id))
        const counts = missing.length === 0 ? new Map<string, Map<string, number>>() : this.termCounts(missing)
        for (const id of wanted) {
          const tf = prefetched.get(id)
          if (tf !== undefined) counts.set(id, tf)
        }
        return counts
      },
      documentFrequencies: (terms) => this.documentFrequencies(terms),
      count: () => this.count(),
    }
  }

  documentFrequencies(terms: readonly string[]): Map<string, number> {
    const frequencies = new Map<string, number>()
    for (const term of terms) {
      if (frequencies.has(term)) continue
      frequencies.set(term, (this.statements.documentFrequency.get(term) as number | undefined) ?? 0)
    }
    return frequencies
  }

  count(): number {
    return (this.statements.count.get() as { n: number }).n
  }

  /** Drops every table of this index. The instance must not be used afterwards. */
  drop(): void {
    dropBm25Tables(this.db, this.key)
  }

  private createTables(): void {
    const t = this.table
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${t}_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS ${t}_docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
      CREATE VIRTUAL TABLE IF NOT EXISTS ${t} USING fts5(terms, tokenize = "${TOKENIZER}");
      CREATE TABLE IF NOT EXISTS ${t}_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ${t}_df_pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, changes TEXT NOT NULL, terms INTEGER NOT NULL);
    `)
    // Merging runs in background steps (mergeSegments), not in the COMMIT of whichever write fills a
    // level; a level reaching 64 segments (background merging far behind) still merges in the write.
    this.db.exec(`INSERT INTO ${t} (${t}, rank) VALUES ('automerge', 0); INSERT INTO ${t} (${t}, rank) VALUES ('crisismerge', 64)`)
    const wanted = JSON.stringify({ version: SCHEMA_VERSION, ...this.settings })
    this.db.prepare(`INSERT OR IGNORE INTO ${t}_settings (name, value) VALUES ('analysis', ?)`).run(wanted)
    const stored = (this.db.prepare(`SELECT value FROM ${t}_settings WHERE name = 'analysis'`).get() as { value: string }).value
    if (stored !== wanted) {
      throw errors.invalidRequest('analysis', `index '${this.key}' was built with ${stored}; reopening it with ${wanted} would mix analyses`)
    }
  }

  private weightedStatement(termCount: number): Database.Statement {
    let statement = this.weightedStatements.get(termCount)
    if (statement === undefined) {
      const t = this.table
      const arm = `SELECT rowid, -bm25(${t}) * ? AS part FROM ${t} WHERE ${t} MATCH ?`
      // MATERIALIZED: flattened into the aggregate (as SQLite does with a single arm), bm25() would
      // run outside its MATCH query and fail with "unable to use function bm25 in the requested context".
      statement = this.db.prepare(`
        WITH parts AS MATERIALIZED (${Array(termCount).fill(arm).join(' UNION ALL ')})
        SELECT d.id AS id, h.score AS score
        FROM (SELECT rowid, sum(part) AS score FROM parts GROUP BY rowid ORDER BY score DESC, rowid LIMIT ?) AS h
        JOIN ${t}_docs AS d ON d.rowid = h.rowid
        ORDER BY h.score DESC, h.rowid`)
      this.weightedStatements.set(termCount, statement)
    }
    return statement
  }

  private upsertOne(doc: LexicalDocument, dfChanges: Map<string, number>): void {
    const cached = preAnalyzed.get(doc)
    preAnalyzed.delete(doc)
    let prepared: Omit<PreparedTerms, 'settings'>
    if (cached !== undefined && cached.settings === this.settingsKey) {
      prepared = cached
    } else {
      const terms = analyze(doc.text, this.settings)
      prepared = { joined: terms.join(' '), distinct: [...new Set(terms)].join(' ') }
    }
    let rowid = this.statements.rowidOf.get(doc.id) as number | bigint | undefined
    if (rowid === undefined) {
      rowid = this.statements.insertDoc.run(doc.id).lastInsertRowid
    } else {
      this.removeTerms(rowid, dfChanges)
    }
    this.statements.insertTerms.run(rowid, prepared.joined)
    if (prepared.distinct.length > 0) for (const term of prepared.distinct.split(' ')) dfChanges.set(term, (dfChanges.get(term) ?? 0) + 1)
  }

  private deleteOne(id: string, dfChanges: Map<string, number>): boolean {
    const rowid = this.statements.rowidOf.get(id) as number | bigint | undefined
    if (rowid === undefined) return false
    this.removeTerms(rowid, dfChanges)
    this.statements.deleteDoc.run(rowid)
    return true
  }

  private removeTerms(rowid: number | bigint, dfChanges: Map<string, number>): void {
    const stored = this.statements.termsAt.get(rowid) as string | undefined
    if (stored !== undefined && stored.length > 0) {
      for (const term of new Set(stored.split(' '))) dfChanges.set(term, (dfChanges.get(term) ?? 0) - 1)
    }
    this.statements.deleteTerms.run(rowid)
  }

  /** Applies a write's df changes now, or queues them when they are many or others are queued. */
  private recordDfChanges(dfChanges: ReadonlyMap<string, number>): void {
    if (dfChanges.size === 0) return
    if (dfChanges.size <= INLINE_DF_TERMS && this.statements.anyPending.get() === undefined) {
      this.applyDfChanges(dfChanges)
      return
    }
    // Grouped by change, each group's terms joined by spaces (terms hold none): for one new document
    // that is a single join. Sorting or a JSON array of ~19,000 pairs cost ~50 ms here, in the write.
    const byChange = new Map<number, string[]>()
    let terms = 0
    for (const [term, change] of dfChanges) {
      if (change === 0) continue
      let group = byChange.get(change)
      if (group === undefined) byChange.set(change, (group = []))
      group.push(term)
      terms++
    }
    if (terms > 0) this.statements.queueDf.run(encodeDfGroups([...byChange].map(([change, group]) => [change, group.join(' ')])), terms)
  }

  /**
   * One drain step: the oldest queued rows, merged (a term queued by many documents is one change),
   * until `maxTerms` distinct terms or 8 x `maxTerms` queued changes have been read. Rows read whole
   * are deleted, a row read in part keeps what is left, in the same transaction as the df update.
   */
  private applyQueuedDf(maxTerms: number): boolean {
    const step = new Map<string, number>()
    let read = 0
    const readLimit = maxTerms * 8
    let full = false
    for (const row of this.statements.oldestPending.all() as { seq: number; changes: string }[]) {
      if (full || read >= readLimit) break
      const left: [number, string][] = []
      for (const [change, joined] of decodeDfGroups(row.changes)) {
        if (full || read >= readLimit) {
          left.push([change, joined])
          continue
        }
        const terms = joined.split(' ')
        let taken = 0
        while (taken < terms.length && read < readLimit) {
          const term = terms[taken]!
          const known = step.get(term)
          if (known === undefined && step.size >= maxTerms) {
            full = true
            break
          }
          step.set(term, (known ?? 0) + change)
          taken++
          read++
        }
        if (taken < terms.length) left.push([change, terms.slice(taken).join(' ')])
      }
      if (left.length === 0) this.statements.deletePending.run(row.seq)
      else this.statements.updatePending.run(encodeDfGroups(left), left.reduce((n, [, joined]) => n + countSpaces(joined) + 1, 0), row.seq)
    }
    this.applyDfChanges(step)
    return this.statements.anyPending.get() !== undefined
  }

  /** The newest queued df row (undefined when none is queued). */
  newestPendingDf(): number | undefined {
    return (this.statements.newestPending.get() as number | null) ?? undefined
  }

  /** Whether any df row up to `seq` is still queued. */
  hasPendingDfUpTo(seq: number): boolean {
    return this.statements.pendingUpTo.get(seq) !== undefined
  }

  /**
   * The df changes of a whole batch as three statements over a JSON object (term -> change): one
   * statement per distinct term cost a JS-to-SQLite call each, ~40,000 of them for one 1 MB document,
   * all inside the write's synchronous transaction.
   */
  private applyDfChanges(dfChanges: ReadonlyMap<string, number>): void {
    // In term order: each upsert then lands next to the previous one in the df table's B-tree.
    const sorted = [...dfChanges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const added = JSON.stringify(Object.fromEntries(sorted.filter(([, change]) => change > 0)))
    const removed = JSON.stringify(Object.fromEntries(sorted.filter(([, change]) => change < 0).map(([term, change]) => [term, -change])))
    if (added !== '{}') this.statements.addDf.run(added)
    if (removed !== '{}') {
      this.statements.subtractDf.run(removed)
      this.statements.forgetTerms.run(removed)
    }
  }
}

/** Queued df changes as stored: `[[change, "term term ..."], ...]`. */
const encodeDfGroups = (groups: readonly [number, string][]): string => JSON.stringify(groups)
const decodeDfGroups = (stored: string): [number, string][] => JSON.parse(stored) as [number, string][]

function countSpaces(text: string): number {
  let n = 0
  for (let i = text.indexOf(' '); i >= 0; i = text.indexOf(' ', i + 1)) n++
  return n
}

/** Characters of a stored term string counted between two slices (~1-3 ms of work). */
const COUNT_PIECE_CHARS = 65_536

/** Occurrences of each space-separated term of `terms`, `slice()` awaited every ~64 K characters. */
async function countSpaceSeparated(terms: string, slice: () => Promise<void>): Promise<Map<string, number>> {
  const tf = new Map<string, number>()
  let start = 0
  let pieceEnd = COUNT_PIECE_CHARS
  while (start < terms.length) {
    let end = terms.indexOf(' ', start)
    if (end < 0) end = terms.length
    if (end > start) {
      const term = terms.slice(start, end)
      tf.set(term, (tf.get(term) ?? 0) + 1)
    }
    start = end + 1
    if (start >= pieceEnd && start < terms.length) {
      await slice()
      pieceEnd = start + COUNT_PIECE_CHARS
    }
  }
  return tf
}

function prepareStatements(db: Database.Database, t: string) {
  return {
    rowidOf: db.prepare(`SELECT rowid FROM ${t}_docs WHERE id = ?`).pluck(),
    insertDoc: db.prepare(`INSERT INTO ${t}_docs (id) VALUES (?)`),
    deleteDoc: db.prepare(`DELETE FROM ${t}_docs WHERE rowid = ?`),
    insertTerms: db.prepare(`INSERT INTO ${t} (rowid, terms) VALUES (?, ?)`),
    deleteTerms: db.prepare(`DELETE FROM ${t} WHERE rowid = ?`),
    search: db.prepare(`
      SELECT d.id AS id, h.score AS score
      FROM (SELECT rowid, -bm25(${t}) AS score FROM ${t} WHERE ${t} MATCH ? ORDER BY score DESC, rowid LIMIT ?) AS h
      JOIN ${t}_docs AS d ON d.rowid = h.rowid
      ORDER BY h.score DESC, h.rowid`),
    termsOf: db.prepare(`
      SELECT d.id AS id, f.terms AS terms FROM ${t}_docs AS d JOIN ${t} AS f ON f.rowid = d.rowid
      WHERE d.id IN (SELECT value FROM json_each(?))`),
    termsOfId: db.prepare(`SELECT f.terms FROM ${t}_docs AS d JOIN ${t} AS f ON f.rowid = d.rowid WHERE d.id = ?`).pluck(),
    termsAt: db.prepare(`SELECT terms FROM ${t} WHERE rowid = ?`).pluck(),
    documentFrequency: db.prepare(`SELECT df FROM ${t}_df WHERE term = ?`).pluck(),
    // WHERE true: SQLite needs it to tell an upsert's ON CONFLICT from a join constraint after SELECT.
    addDf: db.prepare(`INSERT INTO ${t}_df (term, df) SELECT key, value FROM json_each(?) WHERE true ON CONFLICT (term) DO UPDATE SET df = df + excluded.df`),
    subtractDf: db.prepare(`UPDATE ${t}_df SET df = df - j.value FROM json_each(?) AS j WHERE ${t}_df.term = j.key`),
    forgetTerms: db.prepare(`DELETE FROM ${t}_df WHERE df <= 0 AND term IN (SELECT key FROM json_each(?))`),
    count: db.prepare(`SELECT count(*) AS n FROM ${t}_docs`),
    totalChanges: db.prepare('SELECT total_changes()').pluck(),
    anyPending: db.prepare(`SELECT 1 FROM ${t}_df_pending LIMIT 1`).pluck(),
    pendingTerms: db.prepare(`SELECT sum(terms) FROM ${t}_df_pending`).pluck(),
    queueDf: db.prepare(`INSERT INTO ${t}_df_pending (changes, terms) VALUES (?, ?)`),
    oldestPending: db.prepare(`SELECT seq, changes FROM ${t}_df_pending ORDER BY seq LIMIT 32`),
    newestPending: db.prepare(`SELECT max(seq) FROM ${t}_df_pending`).pluck(),
    pendingUpTo: db.prepare(`SELECT 1 FROM ${t}_df_pending WHERE seq <= ? LIMIT 1`).pluck(),
    deletePending: db.prepare(`DELETE FROM ${t}_df_pending WHERE seq = ?`),
    updatePending: db.prepare(`UPDATE ${t}_df_pending SET changes = ?, terms = ? WHERE seq = ?`),
  }
}

type Statements = ReturnType<typeof prepareStatements>

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw errors.invalidValue('limit', limit, 'limit must be an integer >= 1')
}
