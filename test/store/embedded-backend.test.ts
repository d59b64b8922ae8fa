import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { EmbeddedBackend } from '../../src/store/embedded/embedded-backend.js'
import { backendConformance } from './backend-conformance.js'

// The embedded backend (SQLite + hnswlib + FTS5) against the contract every backend keeps.
backendConformance(t, 'embedded', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'funnel-backend-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  return { open: async () => new EmbeddedBackend({ dataDir, indexSaveIntervalMs: 50, log: () => undefined }) }
})
