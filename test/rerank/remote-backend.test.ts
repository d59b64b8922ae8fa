import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { ListwisePrompt } from '../../src/rerank/listwise/prompt.js'
import { firstTokenAlternatives, RemoteListwiseBackend, type RemoteBackendOptions } from '../../src/rerank/listwise/remote-backend.js'
import { chatAnswer, completionsAnswer, startLlmServer } from './helpers/llm-server.js'

const prompt: ListwisePrompt = {
  messages: [
    { role: 'system', content: 'You are RankLLM' },
    { role: 'user', content: 'rank [A] x [B] y [C] z [D] w' },
    { role: 'assistant', content: '[' },
  ],
  text: '<|im_start|>user\nrank [A] x [B] y [C] z [D] w<|im_end|>\n<|im_start|>assistant\n[',
  ids: [],
  labels: ['A', 'B', 'C', 'D'],
  truncated: [false, false, false, false],
  truncatedPassages: 0,
}

const backend = (baseUrl: string, options: Partial<RemoteBackendOptions> = {}) =>
  new RemoteListwiseBackend({ baseUrl, model: 'castorini/first_mistral', retryBaseDelayMs: 5, ...options })

t.test('vLLM completions: request shape, logprobs per identifier, missing ones undefined', async (t) => {
  const server = await startLlmServer(t, () => ({ json: completionsAnswer({ A: -2.5, ' B': -0.3, '▁B': -0.9, C: -4, the: -0.01 }) }))
  const remote = backend(`${server.baseUrl}/`, { apiKey: 'secret' })
  t.same(await remote.identifierScores(prompt), [-2.5, -0.3, -4, undefined])
  const [request] = server.requests
  t.equal(request!.method, 'POST')
  t.equal(request!.url, '/v1/completions', 'a trailing slash on baseUrl is dropped')
  t.equal(request!.headers.authorization, 'Bearer secret')
  t.same(request!.body, { model: 'castorini/first_mistral', temperature: 0, max_tokens: 1, prompt: prompt.text, logprobs: 20 })
  t.equal(remote.name, 'remote:castorini/first_mistral')
})

t.test('chat completions: messages with the opened assistant turn, top_logprobs list', async (t) => {
  const server = await startLlmServer(t, () => ({ json: chatAnswer({ B: -0.2, A: -1.5, '[C': -3 }) }))
  t.same(await backend(server.baseUrl, { api: 'chat', topLogprobs: 5 }).identifierScores(prompt), [-1.5, -0.2, -3, undefined])
  const { body, url } = server.requests[0]!
  t.equal(url, '/v1/chat/completions')
  t.same(body.messages, prompt.messages)
  t.match(body, { logprobs: true, top_logprobs: 5, max_tokens: 1, temperature: 0, continue_final_message: true, add_generation_prompt: false })
  await backend(server.baseUrl, { api: 'chat', continueAssistantTurn: false }).identifierScores(prompt)
  t.same(server.requests[1]!.body.messages, prompt.messages.slice(0, 2), 'without prefill the assistant turn is not sent')
  t.notOk('continue_final_message' in server.requests[1]!.body)
})

t.test('a slow server times out and is not retried', async (t) => {
  const server = await startLlmServer(t, () => ({ delayMs: 1000, json: completionsAnswer({ A: -1 }) }))
  await t.rejects(backend(server.baseUrl, { timeoutMs: 100 }).identifierScores(prompt), {
    code: 'reranker_unavailable',
    statusCode: 503,
    message: /no answer from http:\/\/127\.0\.0\.1:\d+\/v1\/completions within 100 ms/,
  })
  t.equal(server.requests.length, 1)
})

t.test('a 500 is retried with backoff; the retry succeeds', async (t) => {
  const server = await startLlmServer(t, (_req, i) => (i === 0 ? { status: 500, raw: 'CUDA out of memory' } : { json: completionsAnswer({ A: -1 }) }))
  t.same(await backend(server.baseUrl, { maxRetries: 2 }).identifierScores(prompt), [-1, undefined, undefined, undefined])
  t.equal(server.requests.length, 2)
})

t.test('retries are bounded: 1 + maxRetries attempts, then the last error', async (t) => {
  const server = await startLlmServer(t, () => ({ status: 503, raw: 'overloaded' }))
  await t.rejects(backend(server.baseUrl, { maxRetries: 2 }).identifierScores(prompt), { code: 'reranker_unavailable', message: /HTTP 503: overloaded/ })
  t.equal(server.requests.length, 3)
})

t.test('network errors are retried too', async (t) => {
  const closed = http.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as AddressInfo
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  await t.rejects(backend(`http://127.0.0.1:${port}`, { maxRetries: 1 }).identifierScores(prompt), {
    code: 'reranker_unavailable',
    message: /request to .* failed: ECONNREFUSED/,
  })
})

t.test('malformed answers are clear errors and are not retried', async (t) => {
  const answers = [
    { raw: '{"choices": [' },
    { json: { choices: [{ text: 'A' }] } },
    { json: { choices: [{ logprobs: { top_logprobs: ['A'] } }] } },
    { json: { choices: [{ logprobs: { top_logprobs: [{ A: 'high' }] } }] } },
    { json: { choices: [{ logprobs: { content: [{ top_logprobs: [{ token: 'A' }] }] } }] } },
    { status: 400, json: { error: { message: 'logprobs must be <= 5' } } },
  ]
  const server = await startLlmServer(t, (_req, i) => answers[i]!)
  const remote = backend(server.baseUrl, { maxRetries: 3, breaker: { failureThreshold: 100 } })
  const expected = [
    /body is not JSON: "\{\\"choices\\": \["/,
    /no choices\[0\]\.logprobs in the answer/,
    /top_logprobs\[0\] is not an object/,
    /non-numeric logprobs/,
    /need a string token and a numeric logprob/,
    /HTTP 400: .*logprobs must be <= 5/,
  ]
  for (const message of expected) {
    await t.rejects(remote.identifierScores(prompt), { code: 'reranker_bad_response', statusCode: 502, message })
  }
  t.equal(server.requests.length, answers.length, 'one request per call: nothing retried')
  t.equal(firstTokenAlternatives(null), 'no choices[0].logprobs in the answer')
  t.match(firstTokenAlternatives({ choices: [{ logprobs: {} }] }), /neither top_logprobs\[0\] nor content\[0\]\.top_logprobs/)
})

t.test('the breaker opens after consecutive failures, then lets one trial through after the cool-down', async (t) => {
  let healthy = false
  const server = await startLlmServer(t, () => (healthy ? { json: completionsAnswer({ A: -1 }) } : { status: 500, raw: 'down' }))
  let now = 1_000
  const remote = backend(server.baseUrl, { maxRetries: 0, breaker: { failureThreshold: 2, coolDownMs: 5_000, now: () => now } })
  await t.rejects(remote.identifierScores(prompt), /HTTP 500/)
  t.equal(remote.breakerState, 'closed')
  await t.rejects(remote.identifierScores(prompt), /HTTP 500/)
  t.equal(remote.breakerState, 'open')
  await t.rejects(remote.identifierScores(prompt), { code: 'reranker_unavailable', message: /circuit open after repeated failures; next attempt in 5000 ms/ })
  t.equal(server.requests.length, 2, 'an open circuit fails fast without calling the server')

  now += 5_000
  t.equal(remote.breakerState, 'half-open')
  await t.rejects(remote.identifierScores(prompt), /HTTP 500/, 'the trial call fails')
  t.equal(remote.breakerState, 'open', 'and the circuit re-opens for another cool-down')
  t.equal(server.requests.length, 3)

  now += 5_000
  healthy = true
  t.same(await remote.identifierScores(prompt), [-1, undefined, undefined, undefined])
  t.equal(remote.breakerState, 'closed')
})

t.test("a caller's abort rejects with its reason and does not count against the server", async (t) => {
  const controller = new AbortController()
  // The client gives up while the server is still working on the request.
  const server = await startLlmServer(t, () => {
    setImmediate(() => controller.abort(new Error('request closed')))
    return { delayMs: 300, json: completionsAnswer({ A: -1 }) }
  })
  const remote = backend(server.baseUrl, { breaker: { failureThreshold: 1 } })
  await t.rejects(remote.identifierScores(prompt, controller.signal), /request closed/)
  t.equal(remote.breakerState, 'closed')
  await t.rejects(remote.identifierScores(prompt, controller.signal), /request closed/, 'an already aborted signal fails at once')
  t.equal(server.requests.length, 1)
})
