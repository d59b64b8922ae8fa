import t from 'tap'
import pino from 'pino'
import type { WeaviateCluster } from '../../scripts/cluster/weaviate-cluster.js'
import { WeaviateBackend } from '../../src/store/weaviate/weaviate-backend.js'
import { backendConformance } from './backend-conformance.js'
import { startTestCluster, weaviateSkipReason } from './weaviate-cluster-fixture.js'

// The Weaviate backend against the contract every backend keeps, on one real 3-node cluster for the
// whole file. Each case gets classes of its own (a fresh prefix); `open` reconnects to the same ones,
// which is what a restarted Funnel replica does.
const skip = weaviateSkipReason()

if (skip !== false) {
  console.log(`# skipping the Weaviate conformance suite: ${skip}`)
  t.test('weaviate: backend conformance', { skip }, async () => {})
} else {
  let cluster: Promise<WeaviateCluster> | undefined
  let cases = 0
  backendConformance(t, 'weaviate', async () => {
    cluster ??= startTestCluster(t)
    const { urls } = await cluster
    const classPrefix = `C${process.pid}x${++cases}`
    return {
      open: async () => new WeaviateBackend({ urls, consistency: 'QUORUM', timeoutMs: 60_000, replicationFactor: 3, classPrefix, log: pino({ level: 'silent' }) }),
    }
  })
}
