import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import type { Test } from 'tap'
import { WeaviateCluster } from '../../scripts/cluster/weaviate-cluster.js'
import { weaviateBinary } from '../../scripts/cluster/weaviate-install.js'
import { WeaviateBackend, type WeaviateBackendOptions } from '../../src/store/weaviate/weaviate-backend.js'
import type { CollectionSpec } from '../../src/store/backend.js'

/**
 * Why the Weaviate tests cannot run here (no server binary), or false. They need a real cluster: the
 * binary comes from `npm run cluster -- install` (a Go build, cached in CI).
 */
export function weaviateSkipReason(): string | false {
  const binary = weaviateBinary()
  return existsSync(binary.path) ? false : `weaviate-server is not built at ${binary.path}; run npm run cluster -- install`
}

/** A fresh 3-node cluster in a temp folder, stopped and removed at the end of `t`. */
export async function startTestCluster(t: Test): Promise<WeaviateCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'funnel-weaviate-test-'))
  const cluster = await WeaviateCluster.start({ dir, ownedByThisProcess: true, readyTimeoutMs: 240_000 })
  t.teardown(async () => {
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return cluster
}

let backends = 0

/** A backend on `cluster` with classes of its own (a unique prefix), closed at the end of `t`. */
export function openTestBackend(t: Test, cluster: WeaviateCluster, options: Partial<WeaviateBackendOptions> = {}): WeaviateBackend {
  const backend = new WeaviateBackend({
    urls: cluster.urls,
    consistency: 'QUORUM',
    timeoutMs: 60_000,
    replicationFactor: 3,
    classPrefix: `T${process.pid}x${++backends}`,
    log: pino({ level: 'silent' }),
    ...options,
  })
  t.teardown(() => backend.close())
  return backend
}

/** A collection spec with small vectors (8 dims, an index over the first 4). */
export function smallSpec(name: string, settings: Record<string, unknown> = {}): CollectionSpec {
  return { name, model: 'test/model', dims: 8, index_dims: 4, index: { m: 16, ef_construction: 100, ef_search: 64 }, settings }
}

/** A deterministic unit vector per seed (8 dims). */
export function unitVector(seed: number, dims = 8): Float32Array {
  const vector = new Float32Array(dims)
  let state = seed * 2654435761 + 1
  for (let i = 0; i < dims; i++) {
    state = (state * 1103515245 + 12345) % 2147483648
    vector[i] = state / 2147483648 - 0.5
  }
  let norm = 0
  for (const x of vector) norm += x * x
  return vector.map((x) => x / Math.sqrt(norm))
}
