/**
 * The error catalogue: every client-visible failure has a stable code, an HTTP status and a message
 * that names the offending value and, where there is a closed set, the values that are allowed.
 *
 * @example
 *   throw errors.collectionNotFound('books')
 *   // -> 404 { error: { code: 'collection_not_found', message: "collection 'books' does not exist" } }
 */
export class FunnelError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'FunnelError'
  }
}

const list = (values: readonly (string | number)[]): string => values.map((v) => `'${v}'`).join(', ')

export const errors = {
  invalidRequest: (field: string, problem: string) =>
    new FunnelError('invalid_request', 400, `${field}: ${problem}`, { field }),
  invalidValue: (field: string, value: unknown, allowed: string) =>
    new FunnelError('invalid_value', 400, `${field}: ${JSON.stringify(value)} is not allowed; ${allowed}`, { field }),
  collectionNotFound: (name: string) =>
    new FunnelError('collection_not_found', 404, `collection '${name}' does not exist`),
  collectionExists: (name: string) =>
    new FunnelError('collection_exists', 409, `collection '${name}' already exists`),
  documentNotFound: (collection: string, id: string) =>
    new FunnelError('document_not_found', 404, `document '${id}' does not exist in collection '${collection}'`),
  /** `ready`: usable on this server now; `pullable`: listed in the manifest, usable after `npm run models:pull`. */
  unknownModel: (model: string, ready: readonly string[], pullable: readonly string[] = []) =>
    new FunnelError(
      'unknown_model',
      400,
      `model '${model}' is not known; known models: ${list(ready) || 'none'} on this server` +
        (pullable.length === 0 ? '' : `; ${list(pullable)} after npm run models:pull -- ID`),
      { field: 'model' },
    ),
  /** A listed model whose files are not on disk: the caller's to fix (pull it or pick another), so 4xx, never retried by SDKs. */
  modelNotPulled: (model: string, command: string, ready: readonly string[]) =>
    new FunnelError(
      'model_not_pulled',
      400,
      `model '${model}' is listed but its files are not on this server; run ${command}, or use one that is: ${list(ready) || 'none'}`,
      { field: 'model' },
    ),
  unsupportedDimensions: (field: string, requested: number, allowed: string) =>
    new FunnelError('unsupported_dimensions', 400, `${field}: ${requested} is not supported; ${allowed}`, { field }),
  /** Too many inputs in one embeddings request: 400 as OpenAI answers it (SDKs do not retry 4xx). */
  tooManyInputs: (field: string, size: number, max: number, setting: string) =>
    new FunnelError('too_many_inputs', 400, `${field}: ${size} items exceeds the maximum of ${max} per request (${setting})`, { field }),
  batchTooLarge: (field: string, size: number, max: number, setting: string) =>
    new FunnelError('batch_too_large', 413, `${field}: ${size} items exceeds the maximum of ${max} per request (${setting})`, { field }),
  tooManyQueryTerms: (distinct: number, max: number) =>
    new FunnelError(
      'too_many_query_terms',
      400,
      `query: ${distinct} distinct terms after analysis exceeds the maximum of ${max} (FUNNEL_MAX_QUERY_TERMS); shorten the query`,
      { field: 'query' },
    ),
  notReady: (reason: string) => new FunnelError('not_ready', 503, `service is not ready: ${reason}`),
  storage: (problem: string) => new FunnelError('storage_error', 500, `storage failure: ${problem}`),
  unknownReranker: (name: string, known: readonly string[]) =>
    new FunnelError('unknown_reranker', 400, `reranker '${name}' is not known; known rerankers: ${list(known)}`, { field: 'reranker' }),
  rerankerUnavailable: (name: string, reason: string) =>
    new FunnelError('reranker_unavailable', 503, `reranker '${name}' is not available: ${reason}`),
  rerankerBadResponse: (name: string, problem: string) =>
    new FunnelError('reranker_bad_response', 502, `reranker '${name}' returned an unusable answer: ${problem}`),
  unauthorized: (problem: string) => new FunnelError('unauthorized', 401, `authentication required: ${problem}`),
  forbidden: (method: string, route: string) =>
    new FunnelError('forbidden', 403, `${method} ${route} changes stored data and needs a read-write key; this key is read-only ('ro')`),
  rateLimited: (retryAfterSeconds: number, ratePerSecond: number, burst: number) =>
    new FunnelError('rate_limited', 429, `rate limit of ${ratePerSecond} requests/s (burst ${burst}) exceeded; retry after ${retryAfterSeconds} s`),
  overloaded: (signal: string, retryAfterSeconds: number) =>
    new FunnelError('overloaded', 503, `server is overloaded (${signal}); retry after ${retryAfterSeconds} s`),
  requestTimeout: (timeoutMs: number) =>
    new FunnelError('request_timeout', 503, `request did not finish within ${timeoutMs} ms (FUNNEL_REQUEST_TIMEOUT_MS); searches and calibration fits stop, a write may still complete in the background`),
  /** The reason a request's work is aborted when its client hangs up (nginx's 499); never sent, only logged. */
  clientClosedRequest: () => new FunnelError('client_closed_request', 499, 'the client closed the connection before the response'),
  insufficientLabels: (field: string, stage: string, got: { n: number; positives: number }, needed: { examples: number; perLabel: number }, hint = '') =>
    new FunnelError(
      'insufficient_labels',
      422,
      `${field}: calibrating stage '${stage}' needs at least ${needed.examples} labelled examples with at least ${needed.perLabel} relevant and ${needed.perLabel} not relevant; ` +
        `got ${got.n} (${got.positives} relevant, ${got.n - got.positives} not relevant)${hint === '' ? '' : `; ${hint}`}`,
      { field },
    ),
  unknownStage: (stage: string, known: readonly string[]) =>
    new FunnelError('unknown_stage', 400, `stages: '${stage}' is not a pipeline stage; stages: ${list(known)}`, { field: 'stages' }),
  /**
   * The disk filled during a write. A large upsert commits in several transactions (write slices), so
   * `partial` says how many of its documents, from the first, were written before the one that failed.
   */
  storageFull: (partial?: { written: number; total: number }) =>
    new FunnelError(
      'insufficient_storage',
      507,
      partial === undefined || partial.written === 0
        ? 'the disk is full: the write was not stored; free space on the data directory and retry'
        : `the disk is full: the first ${partial.written} of ${partial.total} documents were written before it filled and the rest were not stored; free space on the data directory and retry the whole batch (upserts are idempotent)`,
      partial === undefined ? undefined : { ...partial },
    ),
} as const

export type ErrorCode = ReturnType<(typeof errors)[keyof typeof errors]>['code']

export const isFunnelError = (value: unknown): value is FunnelError => value instanceof FunnelError
