/**
 * The only module that touches onnxruntime-node (with its worker half, onnx-worker-thread.ts).
 * Everything else asks it for a session and hands it plain typed arrays, so the runtime (or its
 * version) can change in one place.
 */
import * as ort from 'onnxruntime-node'
import type { WireMetadata, WireTensor } from './onnx-worker-protocol.js'
import { WorkerSessionBackend } from './onnx-worker-session.js'
import { floatData, poolTokens, type PoolRequest } from './token-pooling.js'

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
  run(feeds: OnnxFeeds, outputs?: readonly string[], pool?: PoolRequest): Promise<Record<string, OnnxTensor>>
  release(): Promise<void>
}

const toWire = (tensor: OnnxTensor): WireTensor => ({ type: tensor.type, dims: [...tensor.dims], data: tensor.data as WireTensor['data'] })
const fromWire = (tensor: WireTensor): OnnxTensor => new ort.Tensor(tensor.type as 'float32', tensor.data as Float32Array, tensor.dims)
const mapValues = <A, B>(record: Record<string, A>, fn: (value: A) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]))

/** The pooled `[batch, hidden]` tensor of a `[batch, tokens, hidden]` output (in-thread sessions). */
function pooledTensor(output: OnnxTensor | undefined, pool: PoolRequest): OnnxTensor {
  if (output === undefined) throw new Error(`cannot pool output ${pool.output}: the run did not return it`)
  const pooled = poolTokens(floatData(output.type, output.data), output.dims, pool.lengths, pool.mode)
  return new ort.Tensor('float32', pooled, [output.dims[0]!, output.dims[2]!])
}

/** A worker-thread session behind the same interface: tensors are converted at the boundary. */
function workerBackend(worker: WorkerSessionBackend): SessionBackend {
  return {
    inputNames: worker.inputNames,
    outputNames: worker.outputNames,
    inputMetadata: worker.inputMetadata,
    outputMetadata: worker.outputMetadata,
    run: async (feeds, outputs, pool) => mapValues(await worker.run(mapValues(feeds, toWire), outputs, pool), fromWire),
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
        run: async (feeds, outputs, pool) => {
          const result = outputs === undefined ? await inner.run(feeds) : await inner.run(feeds, outputs)
          return pool === undefined ? result : { ...result, [pool.output]: pooledTensor(result[pool.output], pool) }
        },
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

  /**
   * Runs the session. With `pool`, that output comes back pooled to `[batch, hidden]` (see
   * token-pooling.ts); on a worker session the pooling happens on the worker, so only the pooled
   * vectors cross threads.
   */
  async run(feeds: OnnxFeeds, outputs?: readonly string[], pool?: PoolRequest): Promise<Record<string, OnnxTensor>> {
    return this.inner.run(feeds, outputs, pool)
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


/** Reads a float tensor's data (float32, or float16 converted) as a Float32Array. */
export function tensorToFloat32(tensor: OnnxTensor): Float32Array {
  return floatData(tensor.type, tensor.data)
}
