import { DOT_KERNELS_WASM_BASE64 } from './wasm/dot-kernels.wasm.js'

/** Rows as RescoreVectors keeps them: float32 values, float16 bits or int8 codes. */
export type EncodedRows = Float32Array | Uint16Array | Int8Array

type Kernel = (query: number, rows: number, count: number, stride: number, n: number, out: number) => void

const PAGE = 65536
/** Rows copied and scored per kernel call, so the scratch memory stays small for any shortlist. */
const BATCH = 256

const align16 = (n: number): number => (n + 15) & ~15

/**
 * Dot products of a float32 query with encoded rows, in WebAssembly SIMD (four float32 lanes; float16
 * decoded exactly in the kernel), several times the speed of the scalar JavaScript loops
 * (`npx tsx bench/retrieval/dot-kernels.ts` compares them in one run). One instance per process: its
 * memory is a scratch area that each call fills with the query and a batch of rows, so calls are
 * synchronous and never overlap. Sums are float32 (the JavaScript loops add in float64), a relative
 * difference of about 1e-7.
 */
class SimdDot {
  private readonly memory = new WebAssembly.Memory({ initial: 1 })
  private readonly kernels: Record<'f32' | 'f16' | 'i8', Kernel>

  constructor() {
    const bytes = Buffer.from(DOT_KERNELS_WASM_BASE64, 'base64')
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.memory } })
    const exports = instance.exports as Record<string, Kernel>
    this.kernels = { f32: exports.score_f32!, f16: exports.score_f16!, i8: exports.score_i8! }
  }

  /**
   * `out[k]` = query · row k over the first `n` components, for rows starting at element offsets
   * `offsets[k]` of `rows` (each row `rowLength` elements long; `n` <= `rowLength`).
   */
  score(query: Float32Array, n: number, rows: EncodedRows, offsets: ArrayLike<number>, rowLength: number, out: Float32Array): void {
    const element = rows.BYTES_PER_ELEMENT
    const stride = rowLength * element
    const rowsAt = align16(n * 4)
    const outAt = rowsAt + align16(Math.min(BATCH, offsets.length) * stride)
    this.reserve(outAt + BATCH * 4)
    const kernel = rows instanceof Float32Array ? this.kernels.f32 : rows instanceof Uint16Array ? this.kernels.f16 : this.kernels.i8
    const buffer = this.memory.buffer
    new Float32Array(buffer, 0, n).set(query.subarray(0, n))
    const target = new Uint8Array(buffer)
    const source = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength)
    const results = new Float32Array(buffer, outAt, BATCH)
    for (let start = 0; start < offsets.length; start += BATCH) {
      const count = Math.min(BATCH, offsets.length - start)
      for (let k = 0; k < count; k++) {
        const from = offsets[start + k]! * element
        target.set(source.subarray(from, from + stride), rowsAt + k * stride)
      }
      kernel(0, rowsAt, count, stride, n, outAt)
      out.set(results.subarray(0, count), start)
    }
  }

  private reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE))
  }
}

let shared: SimdDot | undefined

/** The process's SIMD scorer, compiled on first use. */
export function simdDot(): SimdDot {
  shared ??= new SimdDot()
  return shared
}
