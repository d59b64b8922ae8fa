import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError, type Config } from '../config.js'
import { errors, isFunnelError } from '../errors.js'
import type { RequestRateLimiter } from './rate-limit.js'

export type ApiKeyRole = 'ro' | 'rw'

/** Who called: a fingerprint of the key (safe to log and to key rate limits on) and its role. */
export interface ApiKeyIdentity {
  id: string
  role: ApiKeyRole
}

interface ConfiguredKey extends ApiKeyIdentity {
  digest: Buffer
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated key, or null when auth is off or a loopback client was let in without one. */
    apiKey: ApiKeyIdentity | null
  }
  interface FastifyContextConfig {
    /** Overrides the method-based guess of whether a route changes stored data. */
    access?: 'read' | 'write'
  }
}

/** Routes anyone may call: probes, and the API description. /metrics joins them with FUNNEL_METRICS_PUBLIC. */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/openapi.json'])

/** POST routes that only read: they compute from stored data or the request and store nothing. */
const READ_ONLY_POST = /\/(search|embeddings|rerank|query)$/

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * Parses `FUNNEL_API_KEYS` (`key:rw,other:ro`). Errors name the entry by position, never the key.
 *
 * @example parseApiKeys('s3cret:rw, reader:ro') // -> two keys, fingerprints in `id`
 */
export function parseApiKeys(raw: string): ConfiguredKey[] {
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '')
  return entries.map((entry, i) => {
    const colon = entry.lastIndexOf(':')
    const key = colon < 0 ? '' : entry.slice(0, colon).trim()
    const role = colon < 0 ? '' : entry.slice(colon + 1).trim()
    if (key === '' || (role !== 'ro' && role !== 'rw')) {
      throw new ConfigError(`invalid setting FUNNEL_API_KEYS: entry ${i + 1} must be '<key>:rw' or '<key>:ro'`)
    }
    const digest = sha256(key)
    return { id: digest.toString('hex').slice(0, 12), role, digest }
  })
}

/** Compares against every key, without stopping at a match, so timing reveals neither key nor position. */
function findKey(keys: readonly ConfiguredKey[], presented: string): ConfiguredKey | undefined {
  const digest = sha256(presented)
  let found: ConfiguredKey | undefined
  for (const key of keys) if (timingSafeEqual(key.digest, digest) && found === undefined) found = key
  return found
}

/** The key from `Authorization: Bearer <key>` or `x-api-key`; an unsupported scheme is an error. */
function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match === null) throw errors.unauthorized("the Authorization header must be 'Bearer <key>'")
    return match[1]
  }
  const header = request.headers['x-api-key']
  const value = Array.isArray(header) ? header[0] : header
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

export function routeAccess(method: string, route: string | undefined, configured: 'read' | 'write' | undefined): 'read' | 'write' {
  if (configured !== undefined) return configured
  // Unknown routes are "read" so a valid key gets the 404 rather than a misleading 403.
  if (route === undefined || method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return 'read'
  return method === 'POST' && READ_ONLY_POST.test(route) ? 'read' : 'write'
}

/** Loopback, and not relayed: a reverse proxy on the same host would otherwise make every client look local. */
function isDirectLoopback(request: FastifyRequest): boolean {
  const address = request.socket.remoteAddress ?? ''
  const loopback = address === '::1' || /^(::ffff:)?127\./.test(address)
  const relayed = ['x-forwarded-for', 'forwarded', 'x-real-ip'].some((h) => request.headers[h] !== undefined)
  return loopback && !relayed
}

function challenge(reply: FastifyReply, invalidToken: boolean): void {
  reply.header('www-authenticate', invalidToken ? 'Bearer realm="funnel", error="invalid_token"' : 'Bearer realm="funnel"')
}

/**
 * API-key authentication and read/write authorisation.
 *
 * Modes (`FUNNEL_AUTH`): `off` lets everyone in; `on` requires keys (boot fails without any);
 * `auto` (default) is `on` when keys are configured and otherwise serves direct loopback clients only,
 * warning at boot, so a fresh checkout works locally but an exposed instance never answers anonymously.
 */
export default fp(
  async (app, opts: { config: Config; limiter?: RequestRateLimiter | undefined }) => {
    const { config } = opts
    app.decorateRequest('apiKey', null)
    if (config.auth === 'off') {
      app.log.warn('authentication is off (FUNNEL_AUTH=off): every client can read and write')
      return
    }
    const keys = parseApiKeys(config.apiKeys)
    if (keys.length === 0 && config.auth === 'on') {
      throw new ConfigError('FUNNEL_AUTH=on needs at least one key in FUNNEL_API_KEYS')
    }
    const loopbackOnly = keys.length === 0
    if (loopbackOnly) {
      app.log.warn('no FUNNEL_API_KEYS configured: serving loopback clients only; set keys (or FUNNEL_AUTH=off) to serve others')
    }
    const publicRoutes = new Set(PUBLIC_ROUTES)
    if (config.metricsPublic) publicRoutes.add('/metrics')

    const { limiter } = opts
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url
      if (route !== undefined && publicRoutes.has(route)) return
      try {
        authenticate(request, reply, route)
      } catch (error) {
        // A refused request is charged to its address before the 401, so guessing keys is rate limited
        // (429 once the bucket is empty) like everything else.
        if (isFunnelError(error) && error.statusCode === 401) limiter?.check(`ip:${request.ip}`, reply)
        throw error
      }
    })

    function authenticate(request: FastifyRequest, reply: FastifyReply, route: string | undefined): void {
      if (loopbackOnly) {
        if (isDirectLoopback(request)) return
        challenge(reply, false)
        throw errors.unauthorized('no API keys are configured, so only direct loopback clients are served; the operator must set FUNNEL_API_KEYS')
      }
      const presented = presentedKey(request)
      if (presented === undefined) {
        challenge(reply, false)
        throw errors.unauthorized("send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
      }
      const key = findKey(keys, presented)
      if (key === undefined) {
        challenge(reply, true)
        throw errors.unauthorized('the API key is not valid')
      }
      request.apiKey = { id: key.id, role: key.role }
      if (key.role === 'ro' && routeAccess(request.method, route, request.routeOptions.config.access) === 'write') {
        throw errors.forbidden(request.method, route ?? request.url)
      }
    }
  },
  { name: 'funnel-auth' },
)
