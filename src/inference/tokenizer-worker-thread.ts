/**
 * The worker half of `TokenizerWorker` (tokenizer-worker.ts): loads one model folder's tokenizer and
 * encodes batches of texts on its own thread, so a large upsert's tokenizing does not hold the event
 * loop. Messages are plain objects.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { TextTokenizer } from './tokenizer.js'
import type { TokenizerReply, TokenizerRequest } from './tokenizer-worker.js'

const port = parentPort!
const post = (reply: TokenizerReply) => port.postMessage(reply)

try {
  const tokenizer = await TextTokenizer.fromDirectory((workerData as { dir: string }).dir)
  port.on('message', (request: TokenizerRequest) => {
    try {
      post({ kind: 'result', id: request.id, encoded: request.texts.map((text) => tokenizer.encode(text, request.maxLength)) })
    } catch (error) {
      post({ kind: 'error', id: request.id, message: (error as Error).message })
    }
  })
  post({ kind: 'ready' })
} catch (error) {
  post({ kind: 'failed', message: (error as Error).message })
}
