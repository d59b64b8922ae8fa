import { setTimeout as sleep } from 'node:timers/promises'
import { errors, type FunnelError } from '../../errors.js'
import { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './circuit-breaker.js'
import { identifierLogprobs } from './identifier-logits.js'
import type { ListwiseBackend } from './listwise-reranker.js'
import type { ListwisePrompt } from './prompt.js'

export interface RemoteBackendOptions {
  /** Server root, e.g. http://127.0.0.1:8000 (vLLM) or http://127.0.0.1:8080 (llama.cpp). */
  baseUrl: string
  model: string
  /**
   * 'completions': POST /v1/completions with the locally rendered prompt (exact FIRST prompt,
   * assistant turn opened with '['). 'chat': POST /v1/chat/completions with the messages; the
   * server applies the template, and the '[' prefix is sent as an assistant turn to continue
   * (vLLM's continue_final_message) unless `continueAssistantTurn` is false.
   */
  api?: 'completions' | 'chat'
  continueAssistantTurn?: boolean
  name?: string
  apiKey?: string
  /** Per attempt, including reading the body (default 10 s). */
  timeoutMs?: number
  /** Extra attempts after a 5xx, 429 or network error (default 2). Timeouts are not retried. */
  maxRetries?: number
  /** First backoff; doubles per retry, with jitter (default 200 ms). */
  retryBaseDelayMs?: number
  /** How many alternatives the server reports for the first token (default 20, vLLM's default cap). */
  topLogprobs?: number
  breaker?: CircuitBreakerOptions
}

type Attempt = { ok: true; json: unknown } | { ok: false; retryable: boolean; error: FunnelError }

/**
 * FIRST scoring against an OpenAI-compatible server (vLLM, llama.cpp): one token of generation
 * with the top logprobs of that token; identifiers missing from the top-k get undefined.
 *
 * @example
 *   const remote = new RemoteListwiseBackend({ baseUrl: 'http://127.0.0.1:8000', model: 'castorini/first_mistral' })
 *   const logprobs = await remote.identifierScores(builder.build(query, passages))
 */
export class RemoteListwiseBackend implements ListwiseBackend {
  readonly name: string
  private readonly breaker: CircuitBreaker
  private readonly url: string

  constructor(private readonly options: RemoteBackendOptions) {
    this.name = options.name ?? `remote:${options.model}`
    this.breaker = new CircuitBreaker(options.breaker)
    const path = (options.api ?? 'completions') === 'chat' ? '/v1/chat/completions' : '/v1/completions'
    this.url = options.baseUrl.replace(/\/+$/, '') + path
  }

  get breakerState(): BreakerState {
    return this.breaker.state
  }

  async identifierScores(prompt: ListwisePrompt, signal?: AbortSignal): Promise<(number | undefined)[]> {
    signal?.throwIfAborted()
    if (!this.breaker.tryAcquire()) {
      throw errors.rerankerUnavailable(this.name, `circuit open after repeated failures; next attempt in ${this.breaker.retryInMs} ms`)
    }
    const body = JSON.stringify(this.requestBody(prompt))
    const maxRetries = this.options.maxRetries ?? 2
    const baseDelay = this.options.retryBaseDelayMs ?? 200
    try {
      for (let attempt = 0; ; attempt++) {
        const outcome = await this.attempt(body, signal)
        if (outcome.ok) {
          const logprobs = this.parse(outcome.json, prompt.labels)
          this.breaker.recordSuccess()
          return logprobs
        }
        if (!outcome.retryable || attempt >= maxRetries) throw outcome.error
        await sleep(baseDelay * 2 ** attempt * (0.5 + Math.random() / 2), undefined, { signal })
      }
    } catch (error) {
      // A caller that gave up says nothing about the server's health.
      if (signal?.aborted) {
        this.breaker.recordAbandoned()
        throw signal.reason
      }
      this.breaker.recordFailure()
      throw error
    }
  }

  async dispose(): Promise<void> {
    // Stateless HTTP: nothing to release.
  }

  private requestBody(prompt: ListwisePrompt): Record<string, unknown> {
    const common = { model: this.options.model, temperature: 0, max_tokens: 1 }
    const topLogprobs = this.options.topLogprobs ?? 20
    if ((this.options.api ?? 'completions') === 'completions') return { ...common, prompt: prompt.text, logprobs: topLogprobs }
    const continueTurn = this.options.continueAssistantTurn ?? true
    const messages = continueTurn ? prompt.messages : prompt.messages.filter((m) => m.role !== 'assistant')
    const prefill = continueTurn ? { continue_final_message: true, add_generation_prompt: false } : {}
    return { ...common, messages, logprobs: true, top_logprobs: topLogprobs, ...prefill }
  }

  private async attempt(body: string, signal: AbortSignal | undefined): Promise<Attempt> {
    const timeoutMs = this.options.timeoutMs ?? 10_000
    const timeout = AbortSignal.timeout(timeoutMs)
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`
    let status: number
    let text: string
    try {
      const response = await fetch(this.url, { method: 'POST', headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
      status = response.status
      text = await response.text()
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      if (timeout.aborted) {
        return { ok: false, retryable: false, error: errors.rerankerUnavailable(this.name, `no answer from ${this.url} within ${timeoutMs} ms`) }
      }
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message
      return { ok: false, retryable: true, error: errors.rerankerUnavailable(this.name, `request to ${this.url} failed: ${cause}`) }
    }
    if (status >= 500 || status === 429) {
      return { ok: false, retryable: true, error: errors.rerankerUnavailable(this.name, `${this.url} answered HTTP ${status}: ${text.slice(0, 200)}`) }
    }
    if (status < 200 || status >= 300) {
      return { ok: false, retryable: false, error: errors.rerankerBadResponse(this.name, `HTTP ${status}: ${text.slice(0, 200)}`) }
    }
    try {
      return { ok: true, json: JSON.parse(text) }
    } catch {
      return { ok: false, retryable: false, error: errors.rerankerBadResponse(this.name, `body is not JSON: ${JSON.stringify(text.slice(0, 100))}`) }
    }
  }

  private parse(json: unknown, labels: readonly string[]): (number | undefined)[] {
    const alternatives = firstTokenAlternatives(json)
    if (typeof alternatives === 'string') throw errors.rerankerBadResponse(this.name, alternatives)
    return identifierLogprobs(alternatives, labels)
  }
}

/**
 * The first generated token's alternatives as [token, logprob] pairs, from either answer shape:
 * completions `choices[0].logprobs.top_logprobs[0]` = { token: logprob } (vLLM, OpenAI legacy), or
 * chat `choices[0].logprobs.content[0].top_logprobs` = [{ token, logprob }] (also llama.cpp's
 * completions). Returns a description of the problem when neither shape is there.
 */
export function firstTokenAlternatives(json: unknown): [string, number][] | string {
  const logprobs = (json as { choices?: { logprobs?: unknown }[] } | null)?.choices?.[0]?.logprobs as
    | { top_logprobs?: unknown; content?: unknown }
    | null
    | undefined
  if (logprobs === undefined || logprobs === null) return 'no choices[0].logprobs in the answer'
  const legacy = Array.isArray(logprobs.top_logprobs) ? logprobs.top_logprobs[0] : undefined
  if (legacy !== undefined) {
    if (typeof legacy !== 'object' || legacy === null) return 'choices[0].logprobs.top_logprobs[0] is not an object'
    const entries = Object.entries(legacy as Record<string, unknown>)
    if (entries.some(([, v]) => typeof v !== 'number')) return 'choices[0].logprobs.top_logprobs[0] has non-numeric logprobs'
    return entries as [string, number][]
  }
  const first = Array.isArray(logprobs.content) ? (logprobs.content[0] as { top_logprobs?: unknown } | undefined) : undefined
  if (first !== undefined && Array.isArray(first.top_logprobs)) {
    const items = first.top_logprobs as { token?: unknown; logprob?: unknown }[]
    if (items.some((i) => typeof i?.token !== 'string' || typeof i.logprob !== 'number')) {
      return 'choices[0].logprobs.content[0].top_logprobs entries need a string token and a numeric logprob'
    }
    return items.map((i) => [i.token as string, i.logprob as number])
  }
  return 'choices[0].logprobs has neither top_logprobs[0] nor content[0].top_logprobs'
}
