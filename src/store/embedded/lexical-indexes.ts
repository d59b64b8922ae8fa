import { createHash } from 'node:crypto'
import { Value } from 'typebox/value'
import { errors, isFunnelError } from '../../errors.js'
import { yieldToEventLoop } from '../../event-loop.js'
import { Bm25Index, dropBm25Tables, preAnalyze, type LexicalDocument } from '../../retrieval/bm25-index.js'
import { AnalysisSettingsSchema, defaultAnalysisSettings, type AnalysisSettings } from '../../retrieval/text-analysis.js'
import type { CollectionRecord } from '../backend.js'
import type { SqliteStore } from './sqlite-store.js'

/** FTS5 table names must be plain identifiers; collection names may hold '-' and capitals. */
const tableKey = (collection: string): string => `c_${createHash('sha256').update(collection).digest('hex').slice(0, 24)}`

/** Drops a collection's FTS tables whatever settings they were built with. */
const dropTables = (store: SqliteStore, key: string): void => dropBm25Tables(store.db, key)

/** The analysis settings a collection was created with (stored in its settings JSON). */
export function lexicalSettings(row: Pick<CollectionRecord, 'settings'>): AnalysisSettings {
  const stored = row.settings.lexical
  return stored === undefined ? { ...defaultAnalysisSettings } : (Value.Default(AnalysisSettingsSchema, structuredClone(stored)) as AnalysisSettings)
}

/**
 * One BM25 index (FTS5 tables) per collection, written inside the same SQLite transaction as every
 * document write of the embedded backend, so lexical and dense never disagree.
 */
export class LexicalIndexes {
  private readonly indexes = new Map<string, Bm25Index>()
  /** Background upkeep after writes (queued document frequencies, then FTS5 segment merges), per collection. */
  private readonly draining = new Map<string, Promise<void>>()
  private closed = false
  /** Collections written while their upkeep run was finishing (it runs again). */
  private readonly wroteSince = new Set<string>()

  constructor(
    private readonly store: SqliteStore,
    private readonly log: (obj: object, msg: string) => void,
    private readonly beforeDfStep: (collection: string) => Promise<void> = async () => undefined,
  ) {}

  /**
   * The open BM25 index of a collection. Never creates one: tables are made only when the collection
   * is created or opened at boot, so a request holding a stale row cannot bring back a dropped index.
   */
  forCollection(row: CollectionRecord): Bm25Index {
    const index = this.indexes.get(row.name)
    if (index === undefined) throw errors.collectionNotFound(row.name)
    return index
  }

  /**
   * Opens one collection's BM25 index at boot, rebuilding it from the stored documents when it lags
   * them or was built with other analysis settings than the collection's (a state an older version
   * could leave behind when a search raced a drop and re-create).
   */
  open(row: CollectionRecord): void {
    const settings = lexicalSettings(row)
    let index: Bm25Index | undefined
    let reason = 'document count differs'
    try {
      index = new Bm25Index(this.store.db, tableKey(row.name), settings)
    } catch (error) {
      if (!isFunnelError(error) || error.code !== 'invalid_request') throw error
      reason = error.message
    }
    const expected = this.store.countDocuments(row.name)
    if (index !== undefined && index.count() === expected) {
      this.indexes.set(row.name, index)
      this.drainLater(row.name)
      return
    }
    const started = performance.now()
    const fresh = this.store.transaction(() => {
      dropTables(this.store, tableKey(row.name))
      const rebuilt = new Bm25Index(this.store.db, tableKey(row.name), settings)
      const batch: LexicalDocument[] = []
      for (const doc of this.store.iterateDocuments(row.name)) {
        batch.push({ id: doc.id, text: doc.text })
        if (batch.length >= 500) rebuilt.upsert(batch.splice(0))
      }
      rebuilt.upsert(batch)
      return rebuilt
    })
    this.indexes.set(row.name, fresh)
    this.drainLater(row.name)
    this.log({ collection: row.name, documents: expected, reason, ms: Math.round(performance.now() - started) }, 'lexical index rebuilt')
  }

  onCreate(row: CollectionRecord): void {
    // A leftover table set under this name (never expected, but cheap to rule out) must not be reused.
    dropTables(this.store, tableKey(row.name))
    this.indexes.set(row.name, new Bm25Index(this.store.db, tableKey(row.name), lexicalSettings(row)))
  }

  /** Analyses the batch in event-loop slices before the transaction; `onUpsert` then reuses the terms. */
  prepareUpsert(row: CollectionRecord, docs: readonly LexicalDocument[]): Promise<void> {
    return preAnalyze(docs, lexicalSettings(row))
  }

  onUpsert(row: CollectionRecord, docs: readonly LexicalDocument[]): void {
    // The same objects prepareUpsert analysed: the index finds their terms by identity.
    this.forCollection(row).upsert(docs)
    this.drainLater(row.name)
  }

  onDelete(row: CollectionRecord, ids: readonly string[]): void {
    this.forCollection(row).delete(ids)
    this.drainLater(row.name)
  }

  /**
   * One bounded FTS5 merge step for a collection being written (its own small transaction), so merging
   * keeps pace with a long write instead of piling segments up until a merge runs in a COMMIT.
   */
  mergeStep(name: string): void {
    const index = this.indexes.get(name)
    if (index === undefined) return
    try {
      index.mergeSegments()
    } catch (error) {
      this.log({ collection: name, err: error }, 'FTS5 merge step failed; retried after the next write')
    }
  }

  /** Queued df terms of a collection (0 once feedback statistics are current). */
  pendingDocumentFrequencyTerms(row: CollectionRecord): number {
    return this.forCollection(row).pendingDocumentFrequencyTerms()
  }

  /**
   * Applies the df changes queued before this call, a step per event-loop turn, so that pseudo-
   * relevance feedback reads current statistics (bounded: changes queued meanwhile are not waited for).
   */
  async current(row: CollectionRecord): Promise<void> {
    const index = this.forCollection(row)
    const upTo = index.newestPendingDf()
    if (upTo === undefined) return
    while (this.indexes.get(row.name) === index && index.hasPendingDfUpTo(upTo)) {
      index.drainDocumentFrequencies()
      if (index.hasPendingDfUpTo(upTo)) await yieldToEventLoop()
    }
  }

  /** Resolves once no collection has df changes being applied (tests and benchmarks wait on it). */
  async settled(): Promise<void> {
    while (this.draining.size > 0) await Promise.all(this.draining.values())
  }

  /** Stops applying queued df changes (what is left stays queued and is applied after the next open). */
  async close(): Promise<void> {
    this.closed = true
    await this.settled()
  }

  /**
   * Background upkeep of a collection after a write, one step per event-loop turn: queued df changes
   * first, then FTS5 segment merges, until neither has work. Called inside the write's transaction:
   * the first step runs in a later macrotask, after the commit. The index is looked up by name at
   * every step, so a dropped collection's tables are never touched.
   */
  private drainLater(name: string): void {
    if (this.closed || this.indexes.get(name) === undefined) return
    if (this.draining.has(name)) {
      this.wroteSince.add(name)
      return
    }
    const run = (async () => {
      for (;;) {
        await yieldToEventLoop()
        await this.beforeDfStep(name)
        this.wroteSince.delete(name)
        const current = this.indexes.get(name)
        if (this.closed || current === undefined) return
        try {
          if (current.pendingDocumentFrequencyTerms() > 0) current.drainDocumentFrequencies()
          else if (!current.mergeSegments()) return
        } catch (error) {
          this.log({ collection: name, err: error }, 'background BM25 upkeep failed; retried after the next write or restart')
          return
        }
      }
    })()
    this.draining.set(name, run)
    void run.finally(() => {
      if (this.draining.get(name) !== run) return
      this.draining.delete(name)
      // A write that came while the last step was settling found this run still registered.
      if (this.wroteSince.delete(name)) this.drainLater(name)
    })
  }

  onDrop(row: CollectionRecord): void {
    dropTables(this.store, tableKey(row.name))
    this.indexes.delete(row.name)
  }
}
