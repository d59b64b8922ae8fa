/**
 * The one way tests reach `../shared` (benchmark datasets kept beside the repository, not in it).
 *
 * A fresh clone has no `../shared`; tests that want it call `sharedPath` and pass the result's
 * `skip` to `t.test(name, { skip }, fn)`, so tap prints the reason instead of failing or passing
 * silently. `FUNNEL_SHARED_DIR` points elsewhere.
 *
 * @example
 *   const scifact = sharedPath('datasets/scifact')
 *   t.test('SciFact loads', { skip: scifact.skip }, async (t) => { ... scifact.path ... })
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export function sharedDir(): string {
  return path.resolve(process.env.FUNNEL_SHARED_DIR ?? path.join(repoRoot, '../shared'))
}

export interface SharedPath {
  path: string
  /** false when the path exists, else the reason tap prints for the skip. */
  skip: false | string
}

export function sharedPath(relative: string): SharedPath {
  const full = path.join(sharedDir(), relative)
  if (existsSync(full)) return { path: full, skip: false }
  return { path: full, skip: `needs ${full} (the shared benchmark data beside the repo; set FUNNEL_SHARED_DIR)` }
}
