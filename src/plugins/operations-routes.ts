import type { FastifyRequest } from 'fastify'

/**
 * Routes that probes and scrapers call: never rate limited or shed, so an orchestrator can still see
 * an overloaded instance (auth decides separately whether /metrics needs a key).
 */
export const OPERATIONS_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics'])

export const isOperationsRoute = (request: FastifyRequest): boolean => OPERATIONS_ROUTES.has(request.routeOptions.url ?? '')
