/** What the soak was told: acknowledged writes and deletes per collection, and every answer by code. */
export class SoakLedger {
  private readonly answers = new Map<string, number>()
  /** Per collection: time the last drop was sent and when the re-create after it was answered. */
  private readonly drops = new Map<string, { sent: number; done: number }>()
  private readonly upserts = new Map<string, { sent: number; ids: string[] }[]>()
  private readonly deletes = new Map<string, { sent: number; id: string }[]>()
  private readonly live: { collection: string; id: string }[] = []
  private requests = 0
  private clock = 0

  /** A logical timestamp: strictly increasing, so "sent after" comparisons never tie. */
  mark(_collection: string): number {
    return ++this.clock
  }

  dropSent(name: string): void {
    this.drops.set(name, { sent: this.mark(name), done: Number.POSITIVE_INFINITY })
  }

  dropDone(name: string): void {
    this.drops.get(name)!.done = this.mark(name)
  }

  count(kind: string, status: number, body: string): void {
    this.requests++
    let code = String(status)
    if (status >= 400) {
      try {
        code = `${status} ${(JSON.parse(body) as { error: { code: string } }).error.code}`
      } catch {
        code = `${status} (no catalogue body)`
      }
    }
    const key = `${kind} ${code}`
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1)
  }

  upserted(collection: string, sent: number, ids: string[]): void {
    if (!this.upserts.has(collection)) this.upserts.set(collection, [])
    this.upserts.get(collection)!.push({ sent, ids })
    for (const id of ids) this.live.push({ collection, id })
  }

  deleted(collection: string, sent: number, id: string): void {
    if (!this.deletes.has(collection)) this.deletes.set(collection, [])
    this.deletes.get(collection)!.push({ sent, id })
  }

  /** An acknowledged document to delete (removed from the pool, so it is deleted at most once). */
  deletable(): { collection: string; id: string } | undefined {
    if (this.live.length === 0) return undefined
    const i = Math.floor(Math.random() * this.live.length)
    const [target] = this.live.splice(i, 1)
    return target
  }

  /**
   * Writes that must be present: acknowledged upserts sent after the collection's last drop had been
   * answered by its re-create (earlier ones may rightly have been dropped), minus acknowledged deletes.
   * Deletes acknowledged after that point must be absent.
   */
  verify(stored: Map<string, Set<string>>): string[] {
    const problems: string[] = []
    for (const [collection, batches] of this.upserts) {
      const settled = this.drops.get(collection)?.done ?? 0
      const gone = new Set((this.deletes.get(collection) ?? []).map((d) => d.id))
      const ids = stored.get(collection) ?? new Set<string>()
      for (const batch of batches) {
        if (batch.sent < settled) continue
        for (const id of batch.ids) if (!gone.has(id) && !ids.has(id)) problems.push(`${collection}/${id}: acknowledged upsert missing`)
      }
      for (const d of this.deletes.get(collection) ?? []) if (ids.has(d.id)) problems.push(`${collection}/${d.id}: acknowledged delete still present`)
    }
    return problems
  }

  serverErrors(): number {
    return [...this.answers].filter(([key]) => / 5\d\d/.test(key) && !key.includes('not_ready')).reduce((n, [, c]) => n + c, 0)
  }

  summary(): { requests: number; answers: Record<string, number> } {
    return { requests: this.requests, answers: Object.fromEntries([...this.answers].sort()) }
  }
}
