/**
 * Where benches find the repository, the shared datasets beside it, and where they write results.
 *
 * @example
 *   const dataset = values.dataset ?? sharedDataset('scifact')   // ../shared/datasets/scifact
 *   const out = await writeResult(resultPath('bench-load', values.out), result)
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sharedDir } from '../../test/helpers/shared-data.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** A dataset under `../shared/datasets` (or `$FUNNEL_SHARED_DIR/datasets`): the default every bench uses. */
export const sharedDataset = (name: string): string => path.join(sharedDir(), 'datasets', name)

/** `out` when given, else `bench-results/<name>-<epoch ms>.json` in the repository. */
export const resultPath = (name: string, out?: string): string => out ?? path.join(repoRoot, 'bench-results', `${name}-${Date.now()}.json`)

/** Writes `value` as indented JSON (creating the folder); returns the path relative to the working directory, to print. */
export async function writeResult(file: string, value: unknown): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, JSON.stringify(value, null, 2) + '\n')
  return path.relative(process.cwd(), file)
}
