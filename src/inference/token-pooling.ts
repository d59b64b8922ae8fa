/**
 * Pooling of an encoder's token states into one vector per input, shared by the main thread and the
 * onnxruntime worker thread (no onnxruntime import here). On the worker it runs before the reply, so
 * a batch's `[batch, tokens, hidden]` states (12.6 MB for 32 × 256 × 384) never cross threads: their
 * structured clone and the pooling loop were ~85 ms of one event-loop stall during a 1,000 × 10 KB
 * MiniLM upsert (docs/benchmarks/event-loop.md, session 9).
 */

export type TokenPooling = 'mean' | 'cls'

/** Asks a session run to pool one output before handing it back. */
export interface PoolRequest {
  /** The `[batch, tokens, hidden]` output to pool. */
  output: string
  mode: TokenPooling
  /** Real (unpadded) token count of each batch row. */
  lengths: readonly number[]
}

/** IEEE 754 half-precision bits to a number (Node 20 has no Float16Array; ORT hands back raw bits). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024)
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

/** A float tensor's data (float32, or float16 bits converted) as a Float32Array. */
export function floatData(type: string, data: unknown): Float32Array {
  if (type === 'float32') return data as Float32Array
  if (type === 'float16') {
    const bits = data as Uint16Array
    if (!(bits instanceof Uint16Array)) return Float32Array.from(bits as ArrayLike<number>)
    const out = new Float32Array(bits.length)
    for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!)
    return out
  }
  throw new Error(`expected a float tensor, got ${type}`)
}

/**
 * `[batch, tokens, hidden]` token states (row-major, rows right-padded to `tokens`) to `[batch,
 * hidden]`: the mean over each row's first `lengths[b]` tokens, or its first token (CLS). Not
 * normalised.
 */
export function poolTokens(data: Float32Array, dims: readonly number[], lengths: readonly number[], mode: TokenPooling): Float32Array {
  const [batch, tokens, hidden] = dims as [number, number, number]
  if (dims.length !== 3 || lengths.length !== batch) throw new Error(`cannot pool a [${dims.join(', ')}] output over ${lengths.length} rows`)
  const pooled = new Float32Array(batch * hidden)
  for (let b = 0; b < batch; b++) {
    const base = b * tokens * hidden
    const out = b * hidden
    if (mode === 'cls') {
      pooled.set(data.subarray(base, base + hidden), out)
      continue
    }
    const length = Math.min(lengths[b]!, tokens)
    for (let t = 0; t < length; t++) {
      const row = base + t * hidden
      for (let h = 0; h < hidden; h++) pooled[out + h]! += data[row + h]!
    }
    for (let h = 0; h < hidden; h++) pooled[out + h] = pooled[out + h]! / Math.max(length, 1)
  }
  return pooled
}
