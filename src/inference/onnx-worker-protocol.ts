import type { PoolRequest } from './token-pooling.js'

/** Messages between `OnnxSession` (onnx.ts) and its worker thread (onnx-worker-thread.ts). */

/** A tensor as it crosses threads: its typed array is copied by structured clone. */
export interface WireTensor {
  type: string
  dims: number[]
  data: Float32Array | BigInt64Array | Int32Array | Uint16Array | Uint8Array | Int8Array | Float64Array | string[]
}

/** Input/output metadata as onnxruntime-node reports it (plain fields only). */
export interface WireMetadata {
  name: string
  isTensor: boolean
  type?: string
  shape?: readonly (number | string)[]
}

export type WorkerRequest =
  | { kind: 'run'; id: number; feeds: Record<string, WireTensor>; outputs?: readonly string[]; pool?: PoolRequest }
  | { kind: 'release' }

export type WorkerReply =
  | { kind: 'ready'; inputNames: string[]; outputNames: string[]; inputMetadata: WireMetadata[]; outputMetadata: WireMetadata[] }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { kind: 'error'; id: number; message: string }
  | { kind: 'released'; error?: string }
