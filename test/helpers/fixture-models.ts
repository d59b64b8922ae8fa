/**
 * Tiny random-weight fixture models (built by scripts/fixtures/build_fixtures.py) and their goldens.
 *
 * The BERT fixtures commit only their weights and configs; the real bert-base-uncased tokenizer is
 * committed once under test/fixtures/tokenizers and copied into each assembled model directory.
 *
 * @example
 *   const dir = await fixtureModelDir('tiny-bert-mean')
 *   const golden = readGolden('tiny-bert-mean')
 *   const session = await OnnxSession.open(path.join(dir, golden.onnx))
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { chmod, copyFile, cp, mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const modelsRoot = path.join(repoRoot, 'test/fixtures/models')
const goldenRoot = path.join(repoRoot, 'test/fixtures/golden')

/** The tokenizer used by every fixture that does not commit its own tokenizer.json. */
export const BERT_TOKENIZER_DIR = path.join(repoRoot, 'test/fixtures/tokenizers/bert-base-uncased')
const BERT_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']

export interface EmbedderGoldenCase {
  text: string
  ids: number[]
  typeIds: number[]
  truncated: boolean
  /** [sequence, hidden] for the unpadded input. */
  lastHiddenState: number[][]
  pooled: number[]
  normalized: number[]
}

export interface EmbedderGolden {
  model: string
  kind: 'embedder'
  tokenizer: string
  /** Path of the ONNX file inside the model directory. */
  onnx: string
  pooling: 'mean' | 'cls'
  normalize: boolean
  maxLength: number
  hiddenSize: number
  inputs: string[]
  outputs: string[]
  cases: EmbedderGoldenCase[]
}

export interface CrossEncoderGoldenCase {
  query: string
  passage: string
  ids: number[]
  typeIds: number[]
  truncated: boolean
  logits: number[]
}

export interface CrossEncoderGolden {
  model: string
  kind: 'cross-encoder'
  tokenizer: string
  onnx: string
  numLabels: number
  maxLength: number
  truncation: 'only_second'
  inputs: string[]
  outputs: string[]
  cases: CrossEncoderGoldenCase[]
}

export interface CausalLmGoldenCase {
  /** The exact text tokenised: for chat cases, the rendered template followed by `suffix`. */
  prompt: string
  messages: { role: string; content: string }[] | null
  addGenerationPrompt?: boolean
  suffix?: string
  ids: number[]
  /** Logits over the whole vocabulary at the last prompt position. */
  lastLogits: number[]
  /** Ids of the five largest logits, largest first. */
  top5: number[]
}

export interface CausalLmGolden {
  model: string
  kind: 'causal-lm'
  variant: 'no-past' | 'with-past'
  tokenizer: 'own'
  onnx: string
  vocabSize: number
  numLayers: number
  numKeyValueHeads: number
  headDim: number
  /** Token ids of the single-character identifiers 'A'..'T'. */
  identifierIds: Record<string, number>
  chatTemplate: string
  cases: CausalLmGoldenCase[]
}

export interface GoldenByFixture {
  'tiny-bert-mean': EmbedderGolden
  'tiny-bert-cls': EmbedderGolden
  'tiny-cross-encoder': CrossEncoderGolden
  'tiny-cross-encoder-2class': CrossEncoderGolden
  'tiny-causal-lm': CausalLmGolden
  'tiny-causal-lm-kv': CausalLmGolden
}

export type FixtureName = keyof GoldenByFixture

export const FIXTURE_NAMES: readonly FixtureName[] = Object.freeze([
  'tiny-bert-mean',
  'tiny-bert-cls',
  'tiny-cross-encoder',
  'tiny-cross-encoder-2class',
  'tiny-causal-lm',
  'tiny-causal-lm-kv',
])

function assertFixtureName(name: string): asserts name is FixtureName {
  if (!(FIXTURE_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown fixture model "${name}"; valid names: ${FIXTURE_NAMES.join(', ')}`)
  }
}

const createdDirs: string[] = []
process.once('exit', () => {
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true })
})

/**
 * Assembles a ready-to-load model directory for `name` in a fresh temp dir (removed at process exit):
 * the committed fixture files plus, for BERT fixtures, the committed bert-base-uncased tokenizer.
 */
export async function fixtureModelDir(name: string): Promise<string> {
  assertFixtureName(name)
  const source = path.join(modelsRoot, name)
  const dir = await mkdtemp(path.join(os.tmpdir(), `funnel-${name}-`))
  createdDirs.push(dir)
  await cp(source, dir, { recursive: true })
  if (!existsSync(path.join(source, 'tokenizer.json'))) {
    for (const file of BERT_TOKENIZER_FILES) {
      await copyFile(path.join(BERT_TOKENIZER_DIR, file), path.join(dir, file))
      // A checkout may be read-only; the copy must not be, so tests can edit or delete it.
      await chmod(path.join(dir, file), 0o644)
    }
  }
  return dir
}

/** The parsed golden outputs for a fixture model, computed by PyTorch and Python tokenizers. */
export function readGolden<N extends FixtureName>(name: N): GoldenByFixture[N]
export function readGolden(name: string): GoldenByFixture[FixtureName]
export function readGolden(name: string): GoldenByFixture[FixtureName] {
  assertFixtureName(name)
  return JSON.parse(readFileSync(path.join(goldenRoot, `${name}.json`), 'utf8')) as GoldenByFixture[FixtureName]
}
