/**
 * Reading the parts of a Hugging Face export folder that rerankers need: the ONNX graph (either
 * `onnx/model.onnx`, as Optimum and the hub's ONNX branches lay it out, or `model.onnx` at the top)
 * and the JSON side files, which may be absent.
 */
import { access, readFile } from 'node:fs/promises'
import path from 'node:path'

export async function findOnnxModel(dir: string): Promise<string> {
  const candidates = [path.join(dir, 'onnx', 'model.onnx'), path.join(dir, 'model.onnx')]
  for (const candidate of candidates) {
    try {
      await access(candidate)
      return candidate
    } catch {
      // try the next layout
    }
  }
  throw new Error(`no ONNX model in ${dir} (looked for ${candidates.map((c) => path.relative(dir, c)).join(', ')})`)
}

/** Parses `dir/file` as a JSON object; a missing file reads as {} since most keys have defaults. */
export async function readJsonIfPresent(dir: string, file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path.join(dir, file), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
  const parsed: unknown = JSON.parse(text)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${path.join(dir, file)}: expected a JSON object`)
  }
  return parsed as Record<string, unknown>
}

export const positiveIntegerOr = (value: unknown, fallback: number | undefined): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback

/**
 * The longest input a model accepts: `max_position_embeddings` from config.json, less the padding
 * offset RoBERTa-family position ids start from, bounded by the tokenizer's `model_max_length`
 * (tokenizer configs without a real limit store 1e30 there, so huge values are ignored).
 */
export function modelMaxLength(config: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): number | undefined {
  const positions = positiveIntegerOr(config.max_position_embeddings, undefined)
  const robertaLike = typeof config.model_type === 'string' && /roberta|camembert/.test(config.model_type)
  const padOffset = robertaLike ? (positiveIntegerOr(config.pad_token_id, 0) ?? 0) + 1 : 0
  const fromConfig = positions === undefined ? undefined : positions - padOffset
  const declared = tokenizerConfig.model_max_length
  const fromTokenizer = typeof declared === 'number' && declared > 0 && declared < 1e7 ? Math.floor(declared) : undefined
  if (fromConfig === undefined) return fromTokenizer
  return fromTokenizer === undefined ? fromConfig : Math.min(fromConfig, fromTokenizer)
}
