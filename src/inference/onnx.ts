/**
 * The only module that touches onnxruntime-node (with its worker half, onnx-worker-thread.ts).
 * Everything else asks it for a session and hands it plain typed arrays, so the runtime (or its
 * version) can change in one place.
 */
import * as ort from 'onnxruntime-node'
import type { WireMetadata, WireTensor } from './onnx-worker-protocol.js'
import { WorkerSessionBackend } from './onnx-worker-session.js'

export type OnnxTensor = ort.Tensor
export type OnnxFeeds = Record<string, ort.Tensor>

export interface SessionOptions {
  /** Intra-op threads; 0 lets onnxruntime choose (one per physical core). */
  intraOpThreads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /**
   * Whether idle intra-op worker threads spin waiting for work (onnxruntime's default) or sleep.
   * Default false: on a shared or small machine spinning workers fight other processes for the cores,
   * which halved query throughput with 2 threads here (docs/benchmarks/embedding-throughput.md §3).
   */
  allowSpinning?: boolean
  /**
   * Run the session on a worker thread (default false). onnxruntime-node blocks the calling thread
   * for a whole run; on a worker the event loop keeps serving other requests meanwhile.
   */
  worker?: boolean
}

/** What OnnxSession needs of a session: onnxruntime's own, or its worker-thread stand-in. */
interface SessionBackend {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  readonly inputMetadata: readonly WireMetadata[]
  readonly outputMetadata: readonly WireMetadata[]
  run(feeds: OnnxFeeds, outputs?: readonly string[]): Promise<Record<string, OnnxTensor>>
  release(): Promise<void>
}

const toWire = (tensor: OnnxTensor): WireTensor => ({ type: tensor.type, dims: [...tensor.dims], data: tensor.data as WireTensor['data'] })
const fromWire = (tensor: WireTensor): OnnxTensor => new ort.Tensor(tensor.type as 'float32', tensor.data as Float32Array, tensor.dims)
const mapValues = <A, B>(record: Record<string, A>, fn: (value: A) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]))

/** A worker-thread session behind the same interface: tensors are converted at the boundary. */
function workerBackend(worker: WorkerSessionBackend): SessionBackend {
  return {
    inputNames: worker.inputNames,
    outputNames: worker.outputNames,
    inputMetadata: worker.inputMetadata,
    outputMetadata: worker.outputMetadata,
    run: async (feeds, outputs) => mapValues(await worker.run(mapValues(feeds, toWire), outputs), fromWire),
    release: () => worker.release(),
  }
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
    private readonly inner: SessionBackend,
    readonly path: string,
    /** Whether runs happen on a worker thread. */
    readonly onWorker: boolean,
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
    if (options.worker === true) return new OnnxSession(workerBackend(await WorkerSessionBackend.start(modelPath, sessionOptions)), modelPath, true)
    const inner = await ort.InferenceSession.create(modelPath, sessionOptions)
    return new OnnxSession(
      {
        inputNames: inner.inputNames,
        outputNames: inner.outputNames,
        inputMetadata: inner.inputMetadata,
        outputMetadata: inner.outputMetadata,
        run: (feeds, outputs) => (outputs === undefined ? inner.run(feeds) : inner.run(feeds, outputs)),
        release: () => inner.release(),
      },
      modelPath,
      false,
    )
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
    return this.inner.run(feeds, outputs)
  }

  async dispose(): Promise<void> {
    await this.inner.release()
  }
}

function metadataFor(list: readonly WireMetadata[], name: string): TensorInfo | undefined {
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
