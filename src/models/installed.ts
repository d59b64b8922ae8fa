import { access, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { hasGguf } from '../rerank/llm/gguf-file.js'

/**
 * What a model folder holds: an embedder, a cross-encoder, a causal LM for listwise reranking, or a
 * GGUF file for the llama.cpp LLM stages (listwise or pointwise).
 */
export type ModelKind = 'embedding' | 'cross-encoder' | 'listwise-onnx' | 'gguf'

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  )

/** Whether the folder holds an ONNX export where the loaders look for one. */
export async function hasOnnx(dir: string): Promise<boolean> {
  for (const file of ['onnx/model.onnx', 'model.onnx']) if (await exists(path.join(dir, file))) return true
  return false
}

async function architectures(dir: string): Promise<string[]> {
  try {
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as { architectures?: unknown }
    return Array.isArray(config.architectures) ? config.architectures.map(String) : []
  } catch {
    return []
  }
}

/**
 * The kind of model a folder holds, from its config.json `architectures`: *ForSequenceClassification is
 * a cross-encoder, *ForCausalLM a listwise LLM, and any other folder with an ONNX export an embedder.
 */
export async function modelKind(dir: string): Promise<ModelKind | undefined> {
  if (await hasGguf(dir)) return 'gguf'
  const names = await architectures(dir)
  if (names.some((a) => a.endsWith('ForSequenceClassification'))) return 'cross-encoder'
  if (names.some((a) => a.endsWith('ForCausalLM'))) return 'listwise-onnx'
  return (await hasOnnx(dir)) ? 'embedding' : undefined
}

async function subfolders(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name)
  } catch {
    return []
  }
}

/**
 * Ids of the models of the given kinds present under the models directory, sorted. An id is one or two
 * folder levels (`owner/name`, as the manifest and `modelDirectory` spell it), so error messages can
 * name what a caller may use right now.
 *
 * @example
 *   await installedModels('/var/lib/funnel/models', ['cross-encoder'])   // ['test/tiny-cross-encoder']
 */
export async function installedModels(modelsDir: string, kinds: readonly ModelKind[]): Promise<string[]> {
  const found: string[] = []
  for (const top of await subfolders(modelsDir)) {
    const topKind = await modelKind(path.join(modelsDir, top))
    if (topKind !== undefined) {
      if (kinds.includes(topKind)) found.push(top)
      continue
    }
    for (const name of await subfolders(path.join(modelsDir, top))) {
      const kind = await modelKind(path.join(modelsDir, top, name))
      if (kind !== undefined && kinds.includes(kind)) found.push(`${top}/${name}`)
    }
  }
  return found.sort()
}
