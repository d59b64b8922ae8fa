/** Raw little-endian float32 files, read and written in chunks (one fs call is capped near 2 GiB). */
import { closeSync, existsSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../lib/paths.js'

const CHUNK_BYTES = 1 << 28

/** The real embeddings a synthetic set is drawn from (made by bench/matryoshka/embed.ts). */
export interface RealSource {
  dims: number
  docs: string
  queries: string
}

const VECTORS = path.join(repoRoot, 'bench-results/matryoshka/vectors')

export const REAL_SOURCES = {
  minilm: {
    dims: 384,
    docs: path.join(VECTORS, 'scifact__sentence-transformers_all-MiniLM-L6-v2__L256.sub2000.docs.f32'),
    queries: path.join(VECTORS, 'scifact__sentence-transformers_all-MiniLM-L6-v2__L256.sub2000.queries.f32'),
  },
  gemma: {
    dims: 768,
    docs: path.join(VECTORS, 'scifact__google_embeddinggemma-300m__L512.sub2000.docs.f32'),
    queries: path.join(VECTORS, 'scifact__google_embeddinggemma-300m__L512.sub2000.queries.f32'),
  },
} as const satisfies Record<string, RealSource>

export const MAKE_REAL_VECTORS = 'bench/matryoshka/run-scifact-subset.sh embed 2000   # needs ../shared/datasets/scifact; embeds all three models (EmbeddingGemma takes hours on 2 cores)'

/** Missing files of a source, so the command can say what to run instead of failing later. */
export const missingFiles = (source: RealSource): string[] => [source.docs, source.queries].filter((file) => !existsSync(file))

export function readFloat32(file: string, dims: number): Float32Array {
  const bytes = statSync(file).size
  if (bytes % (dims * 4) !== 0) throw new Error(`${file}: ${bytes} bytes is not a whole number of ${dims}-dim float32 rows`)
  const out = new Float32Array(bytes / 4)
  const view = new Uint8Array(out.buffer)
  const fd = openSync(file, 'r')
  try {
    for (let at = 0; at < bytes; ) at += readSync(fd, view, at, Math.min(CHUNK_BYTES, bytes - at), at)
  } finally {
    closeSync(fd)
  }
  return out
}

export function writeFloat32(file: string, values: Float32Array): void {
  const view = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  const fd = openSync(file, 'w')
  try {
    for (let at = 0; at < view.length; ) at += writeSync(fd, view, at, Math.min(CHUNK_BYTES, view.length - at), at)
  } finally {
    closeSync(fd)
  }
}
