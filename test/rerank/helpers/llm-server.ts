/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 for the remote listwise backend's tests: each
 * request is answered by the test's `respond` function (status, JSON or raw body, optional delay).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface RecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: any
}

export interface Reply {
  status?: number
  json?: unknown
  raw?: string
  delayMs?: number
}

export type Responder = (request: RecordedRequest, index: number) => Reply | Promise<Reply>

export async function startLlmServer(t: Test, respond: Responder): Promise<{ baseUrl: string; requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = []
  const server = http.createServer((req, res) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (text += chunk))
    req.on('end', async () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(text || 'null') }
      requests.push(recorded)
      const reply = await respond(recorded, requests.length - 1)
      const send = () => {
        if (res.destroyed) return
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' })
        res.end(reply.raw ?? JSON.stringify(reply.json ?? {}))
      }
      if (reply.delayMs === undefined) send()
      else setTimeout(send, reply.delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const { port } = server.address() as AddressInfo
  return { baseUrl: `http://127.0.0.1:${port}`, requests }
}

/** A vLLM /v1/completions answer whose first token has these top logprobs. */
export const completionsAnswer = (topLogprobs: Record<string, number>) => ({
  id: 'cmpl-1',
  object: 'text_completion',
  model: 'first',
  choices: [
    {
      index: 0,
      text: Object.entries(topLogprobs).sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
      logprobs: { tokens: ['A'], token_logprobs: [-0.1], top_logprobs: [topLogprobs], text_offset: [0] },
      finish_reason: 'length',
    },
  ],
})

/** A /v1/chat/completions answer (OpenAI shape, also vLLM's and llama.cpp's). */
export const chatAnswer = (topLogprobs: Record<string, number>) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'A' },
      logprobs: {
        content: [{ token: 'A', logprob: -0.1, top_logprobs: Object.entries(topLogprobs).map(([token, logprob]) => ({ token, logprob })) }],
      },
      finish_reason: 'length',
    },
  ],
})
