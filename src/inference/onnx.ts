/**
 * The only module that touches onnxruntime-node. Everything else asks it for a session and hands it
 * plain typed arrays, so the runtime (or its version) can change in one place.
 */
import * as ort from 'onnxruntime-node'

export type OnnxTensor = ort.Tensor
export type OnnxFeeds = Record<string, ort.Tensor>

export interface SessionOptions {
  /** Intra-op threads; 0 lets onnxruntime choose (one per physical core). */
  intraOpThreads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /**
   * Whether idle intra-op worker threads spin waiting for work (onnxruntime's default) or sleep.
   * Default false: on a shared or small machine spinning workers fight other processes for the cores,
   * which halved query throughput with 2 threads here (BENCHMARKS-embeddings.md §3).
   */
  allowSpinning?: boolean
}

export interface TensorInfo {
  name: string
  /** Dimensions with symbolic axes as strings, when the model declares them. */
  shape: readonly (number | string)[] | undefined
  type: string | undefined
}

/**
 * An onnxruntime inference session with its input/output metadata.
 *
 * @example
 *   const session = await OnnxSession.open('model.onnx')
 *   const out = await session.run({ input_ids: int64Tensor(ids, [1, ids.length]) })
 *   await session.dispose()
 */
export class OnnxSession {
  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly path: string,
  ) {}

  static async open(modelPath: string, options: SessionOptions = {}): Promise<OnnxSession> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      executionProviders: ['cpu'],
    }
    if (options.intraOpThreads !== undefined && options.intraOpThreads > 0) {
      sessionOptions.intraOpNumThreads = options.intraOpThreads
    }
    sessionOptions.extra = { session: { intra_op: { allow_spinning: options.allowSpinning === true ? '1' : '0' } } }
    const inner = await ort.InferenceSession.create(modelPath, sessionOptions)
    return new OnnxSession(inner, modelPath)
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames
  }

  inputInfo(name: string): TensorInfo | undefined {
    return metadataFor(this.inner.inputMetadata, name)
  }

  outputInfo(name: string): TensorInfo | undefined {
    return metadataFor(this.inner.outputMetadata, name)
  }

  async run(feeds: OnnxFeeds, outputs?: readonly string[]): Promise<Record<string, OnnxTensor>> {
    return outputs === undefined ? this.inner.run(feeds) : this.inner.run(feeds, outputs)
  }

  async dispose(): Promise<void> {
    await this.inner.release()
  }
}

function metadataFor(list: readonly ort.InferenceSession.ValueMetadata[], name: string): TensorInfo | undefined {
  const found = list.find((m) => m.name === name)
  if (found === undefined) return undefined
  if (!found.isTensor) return { name, shape: undefined, type: undefined }
  return { name, shape: found.shape, type: found.type }
}

export const int64Tensor = (values: BigInt64Array, dims: readonly number[]): OnnxTensor =>
  new ort.Tensor('int64', values, dims)

export const float32Tensor = (values: Float32Array, dims: readonly number[]): OnnxTensor =>
  new ort.Tensor('float32', values, dims)

/** Packs ragged token id rows into a right-padded [batch, maxLen] int64 tensor. */
export function padToTensor(rows: readonly (readonly number[])[], padValue = 0): { tensor: OnnxTensor; maxLen: number } {
  const maxLen = Math.max(1, ...rows.map((r) => r.length))
  const data = new BigInt64Array(rows.length * maxLen).fill(BigInt(padValue))
  rows.forEach((row, b) => row.forEach((v, t) => (data[b * maxLen + t] = BigInt(v))))
  return { tensor: int64Tensor(data, [rows.length, maxLen]), maxLen }
}

/** IEEE 754 half-precision bits to a number (Node 20 has no Float16Array; ORT hands back raw bits). */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024)
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

/** Reads a float tensor's data (float32, or float16 converted) as a Float32Array. */
export function tensorToFloat32(tensor: OnnxTensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array
  if (tensor.type === 'float16') {
    const bits = tensor.data as unknown as Uint16Array
    if (!(bits instanceof Uint16Array)) return Float32Array.from(bits as ArrayLike<number>)
    const out = new Float32Array(bits.length)
    for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!)
    return out
  }
  throw new Error(`expected a float tensor, got ${tensor.type}`)
}
