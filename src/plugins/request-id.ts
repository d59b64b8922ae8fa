import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'

export const REQUEST_ID_HEADER = 'x-request-id'

/** Ids a client may choose: bounded, and free of anything that could forge log lines or headers. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:/+=@-]{1,128}$/

/**
 * Fastify's `genReqId`: honours a well-formed incoming `x-request-id` (so a proxy's id follows the
 * request through our logs) and otherwise generates a UUID. A malformed or over-long id is replaced,
 * not cleaned up, so the id in the logs is always exactly the one returned to the client.
 */
export function generateRequestId(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER]
  const value = Array.isArray(incoming) ? incoming[0] : incoming
  return value !== undefined && SAFE_REQUEST_ID.test(value) ? value : randomUUID()
}

/** Returns the request id on every response, errors and 404s included (logs carry it as `reqId`). */
export default fp(
  async (app) => {
    app.addHook('onSend', async (request, reply, payload) => {
      reply.header(REQUEST_ID_HEADER, request.id)
      return payload
    })
  },
  { name: 'funnel-request-id' },
)
