import type { Candidate, Hit } from '../candidate.js'
import type { Backend } from '../store/backend.js'

/**
 * Reads text and metadata for the hits a stage or the response needs, keeping their order; a hit
 * whose document was deleted since retrieval is left out. Retrieval and feedback pass hits around
 * without texts, so a search with a 1,000-hit candidate list reads only the texts it shows or reranks.
 */
export async function hydrate(backend: Backend, collection: string, hits: readonly Hit[]): Promise<Candidate[]> {
  if (hits.length === 0) return []
  const bodies = await backend.documents(collection, hits.map((h) => h.id))
  return hits.flatMap((hit) => {
    const body = bodies.get(hit.id)
    if (body === undefined) return []
    return [{ ...hit, text: body.text, ...(body.metadata !== null && { metadata: body.metadata }) }]
  })
}
