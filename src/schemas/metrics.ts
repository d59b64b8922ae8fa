import { Type } from 'typebox'

/** GET /metrics: Prometheus text, described as a response with its own content type. */
export const MetricsResponseSchema = {
  description: 'Prometheus text exposition format 0.0.4',
  content: { 'text/plain': { schema: Type.String() } },
}
