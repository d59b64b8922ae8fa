/**
 * Funnel's own embedder (TypeScript tokenizer + onnxruntime-node + the manifest's settings) against
 * sentence-transformers' vectors for EmbeddingGemma (scripts/dev-models/refs/embeddinggemma-300m.reference.json,
 * written by reference_embeddinggemma.py with encode_query / encode_document). Funnel is given the raw
 * texts and the kind; the prompts come from the manifest (and, in the second pass, from the folder's
 * config_sentence_transformers.json alone), so this checks that the prompts are applied as
 * sentence-transformers applies them. Items longer than the manifest's max_length are cut by Funnel
 * and reported, not held to --min-cos.
 *
 *   npx tsx bench/matryoshka/check-embedder.ts [--model google/embeddinggemma-300m] [--min-cos 0.9999]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { EmbeddingModel } from '../../src/inference/embedding-model.js'
import { findModel, modelDirectory, readManifest } from '../../src/models/manifest.js'

interface Reference {
  prompts: { query: string; document: string }
  versions: Record<string, string>
  items: { kind: 'query' | 'document'; text: string; tokens: number; embedding: number[] }[]
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'google/embeddinggemma-300m' },
      reference: { type: 'string', default: 'scripts/dev-models/refs/embeddinggemma-300m.reference.json' },
      'min-cos': { type: 'string', default: '0.9999' },
      'models-dir': { type: 'string', default: process.env.FUNNEL_MODELS_DIR ?? 'models' },
    },
  })
  const ref = JSON.parse(readFileSync(values.reference, 'utf8')) as Reference
  const entry = findModel(readManifest(), values.model)
  if (entry === undefined) throw new Error(`${values.model} is not in the manifest`)
  const dir = modelDirectory(values['models-dir'], values.model)
  const minCos = Number(values['min-cos'])
  let ok = true
  for (const source of ['manifest', 'folder'] as const) {
    const model = await EmbeddingModel.load(dir, {
      id: values.model,
      maxLength: entry.max_length,
      ...(source === 'manifest' && entry.prefixes !== undefined && { prefixes: entry.prefixes }),
      session: { intraOpThreads: 1 },
    })
    const cosines: number[] = []
    const cut: number[] = []
    for (const kind of ['query', 'document'] as const) {
      const items = ref.items.map((item, i) => ({ ...item, i })).filter((item) => item.kind === kind)
      // One batch per kind: right-padded, as Funnel serves them.
      const out = await model.embed(items.map((item) => item.text), kind)
      items.forEach((item, j) => {
        const got = out.vectors[j]!
        let dot = 0
        let n = 0
        for (let k = 0; k < got.length; k++) {
          dot += got[k]! * item.embedding[k]!
          n += item.embedding[k]! ** 2
        }
        cosines[item.i] = dot / Math.sqrt(n)
        if (out.truncated[j]) cut.push(item.i)
      })
    }
    await model.dispose()
    const held = cosines.filter((_, i) => !cut.includes(i))
    const min = Math.min(...held)
    process.stdout.write(
      JSON.stringify({
        prompts_from: source,
        max_length: entry.max_length,
        dims: model.dims,
        cosines: cosines.map((c) => +c.toFixed(6)),
        cut_by_max_length: cut,
        cosine_min: +min.toFixed(6),
        ok: min >= minCos,
      }) + '\n',
    )
    ok &&= min >= minCos
  }
  process.exit(ok ? 0 : 1)
}

main().catch((error: unknown) => {
  process.stderr.write(`check-embedder failed: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
