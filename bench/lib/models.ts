/**
 * Which embedding model a server bench runs: the one asked for, else the offline default when
 * `models/` holds it, else the tiny fixture embedder (so a fresh clone can run every bench).
 */
import { existsSync } from 'node:fs'
import { cp } from 'node:fs/promises'
import path from 'node:path'
import { fixtureModelDir } from '../../test/helpers/fixture-models.js'
import { repoRoot } from './paths.js'

export const modelsDir = path.join(repoRoot, 'models')
const DEFAULT_MODEL = 'funnel/glove-6b-100d-static'
const FIXTURE = 'tiny-bert-mean'

const hasOnnx = (dir: string): boolean => existsSync(path.join(dir, 'model.onnx')) || existsSync(path.join(dir, 'onnx/model.onnx'))

/** The models directory and model id; the fixture is copied under `work/models/test/`. */
export async function chooseModel(requested: string | undefined, work: string): Promise<{ modelsDir: string; model: string }> {
  const wanted = requested ?? DEFAULT_MODEL
  if (hasOnnx(path.join(modelsDir, wanted))) return { modelsDir, model: wanted }
  if (requested !== undefined) throw new Error(`model '${requested}' not found under ${modelsDir}`)
  const fixtureModels = path.join(work, 'models')
  await cp(await fixtureModelDir(FIXTURE), path.join(fixtureModels, 'test', FIXTURE), { recursive: true })
  return { modelsDir: fixtureModels, model: `test/${FIXTURE}` }
}
