/**
 * The worker half of `OnnxSession` with `worker: true` (see onnx.ts, the only other module that
 * touches onnxruntime-node): owns one inference session on its own thread, so a run does not block
 * the main event loop. Messages are plain objects; tensors travel as { type, dims, data }.
 */
import { parentPort, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import type { WorkerReply, WorkerRequest, WireTensor } from './onnx-worker-protocol.js'
import { floatData, poolTokens, type PoolRequest } from './token-pooling.js'

const { modelPath, sessionOptions } = workerData as { modelPath: string; sessionOptions: ort.InferenceSession.SessionOptions }
const port = parentPort!

const toWire = (tensor: ort.Tensor): WireTensor => ({ type: tensor.type, dims: [...tensor.dims], data: tensor.data as WireTensor['data'] })
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer)

/** The run's outputs as sent back: the pooled output, if asked for, replaces its token states (and is transferred, not copied). */
function reply(id: number, outputs: ort.InferenceSession.OnnxValueMapType, pool: PoolRequest | undefined): void {
  const wire: Record<string, WireTensor> = {}
  const transfer: ArrayBuffer[] = []
  for (const [name, tensor] of Object.entries(outputs)) {
    if (pool !== undefined && name === pool.output) {
      const pooled = poolTokens(floatData(tensor.type, tensor.data), tensor.dims, pool.lengths, pool.mode)
      wire[name] = { type: 'float32', dims: [tensor.dims[0]!, tensor.dims[2]!], data: pooled }
      transfer.push(pooled.buffer as ArrayBuffer)
    } else wire[name] = toWire(tensor)
  }
  if (pool !== undefined && wire[pool.output] === undefined) throw new Error(`cannot pool output ${pool.output}: the run did not return it`)
  post({ kind: 'result', id, outputs: wire }, transfer)
}

try {
  const session = await ort.InferenceSession.create(modelPath, sessionOptions)
  port.on('message', (request: WorkerRequest) => {
    if (request.kind === 'release') {
      void session.release().then(
        () => post({ kind: 'released' }),
        (error: unknown) => post({ kind: 'released', error: (error as Error).message }),
      )
      return
    }
    const feeds = Object.fromEntries(
      Object.entries(request.feeds).map(([name, t]) => [name, new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims)]),
    )
    const running = request.outputs === undefined ? session.run(feeds) : session.run(feeds, request.outputs)
    running
      .then((outputs) => reply(request.id, outputs, request.pool))
      .catch((error: unknown) => post({ kind: 'error', id: request.id, message: (error as Error).message }))
  })
  post({
    kind: 'ready',
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map((m) => ({ ...m })),
    outputMetadata: session.outputMetadata.map((m) => ({ ...m })),
  })
} catch (error) {
  post({ kind: 'failed', message: (error as Error).message })
}
