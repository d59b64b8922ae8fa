/**
 * Document label → row number, for RescoreVectors: an open-addressing hash table (linear probing,
 * backward-shift deletion, load ≤ 1/2) over one Float64Array of [label, row] pairs.
 *
 * Why not a `Map`: rescoring a shortlist looks up each candidate's row, and at a million labels a
 * V8 Map lookup is two to three cache misses (hash table, then entry) plus a boxed result; here a
 * lookup is usually one miss, since a probe's label and row share a cache line. At 1M x 768 this
 * took rescoring of a 1,000-row shortlist from 1.04–1.06 ms to 0.88 ms (1.49x to 1.27x the SIMD
 * kernel alone; docs/benchmarks/million-vectors.md). The cost: 16 bytes per slot, 32–64 per label
 * (a Map takes ~29), so 32–64 MiB per million labels beside 1,472 MiB of float16 rows.
 *
 * Labels are integers (SQLite rowids, hnswlib labels) exact in a float64; NaN marks an empty slot.
 *
 * @example
 *   const map = new LabelRows()
 *   map.set(7, 0)
 *   map.get(7)  // 0
 *   map.get(9)  // -1 (absent)
 */
export class LabelRows {
  /** [label, row] pairs; label NaN = empty. */
  private slots: Float64Array
  private mask: number
  /** 32 − log2(slot count): the hash's top bits pick the slot. */
  private shift: number
  private count = 0

  constructor(capacity = 16) {
    let slots = 16
    while (slots < capacity * 2) slots *= 2
    this.slots = emptySlots(slots)
    this.mask = slots - 1
    this.shift = 32 - Math.log2(slots)
  }

  get size(): number {
    return this.count
  }

  /** Bytes allocated for the table. */
  get bytes(): number {
    return this.slots.byteLength
  }

  /** The row of `label`, or -1. */
  get(label: number): number {
    const slots = this.slots
    for (let i = this.home(label); ; i = (i + 1) & this.mask) {
      const key = slots[2 * i]!
      if (key === label) return slots[2 * i + 1]!
      if (key !== key) return -1
    }
  }

  has(label: number): boolean {
    return this.get(label) !== -1
  }

  /** Sets the row of `label` (a non-negative integer row number). */
  set(label: number, row: number): void {
    if (!Number.isInteger(label)) throw new Error(`label must be an integer, got ${label}`)
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2)
    const slots = this.slots
    for (let i = this.home(label); ; i = (i + 1) & this.mask) {
      const key = slots[2 * i]!
      if (key === label) {
        slots[2 * i + 1] = row
        return
      }
      if (key !== key) {
        slots[2 * i] = label
        slots[2 * i + 1] = row
        this.count++
        return
      }
    }
  }

  /** Removes `label`; returns its row, or -1 when it was absent. */
  delete(label: number): number {
    const slots = this.slots
    const mask = this.mask
    let i = this.home(label)
    for (; ; i = (i + 1) & mask) {
      const key = slots[2 * i]!
      if (key === label) break
      if (key !== key) return -1
    }
    const row = slots[2 * i + 1]!
    // Backward-shift deletion: pull later members of the probe run into the hole, so lookups never
    // stop early at it and no tombstones accumulate.
    let hole = i
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const key = slots[2 * j]!
      if (key !== key) break
      const home = this.home(key)
      // Move the entry at j into the hole unless its home lies cyclically in (hole, j].
      const inRun = hole <= j ? home > hole && home <= j : home > hole || home <= j
      if (!inRun) {
        slots[2 * hole] = key
        slots[2 * hole + 1] = slots[2 * j + 1]!
        hole = j
      }
    }
    slots[2 * hole] = Number.NaN
    slots[2 * hole + 1] = 0
    this.count--
    return row
  }

  private home(label: number): number {
    // Labels are integers up to 2^53: mix both 32-bit halves (Fibonacci hashing).
    const low = label >>> 0
    const high = (label / 4294967296) >>> 0
    return Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> this.shift
  }

  private resize(slotCount: number): void {
    const old = this.slots
    this.slots = emptySlots(slotCount)
    this.mask = slotCount - 1
    this.shift = 32 - Math.log2(slotCount)
    this.count = 0
    for (let i = 0; i < old.length; i += 2) {
      const key = old[i]!
      if (key === key) this.set(key, old[i + 1]!)
    }
  }
}

function emptySlots(slotCount: number): Float64Array {
  const slots = new Float64Array(slotCount * 2)
  for (let i = 0; i < slots.length; i += 2) slots[i] = Number.NaN
  return slots
}
