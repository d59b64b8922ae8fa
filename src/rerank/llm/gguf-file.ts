/** Finding and sanity-checking GGUF files without loading llama.cpp (cheap enough for folder scans). */
import { open, readdir, stat } from 'node:fs/promises'
import path from 'node:path'

/** The GGUF file a model id points at: the file itself, or the one .gguf file (the smallest, if several) in a folder. */
export async function findGgufFile(fileOrDir: string): Promise<string> {
  const info = await stat(fileOrDir).catch(() => undefined)
  if (info === undefined) throw new Error(`no GGUF model at ${fileOrDir}`)
  if (info.isFile()) {
    if (!fileOrDir.toLowerCase().endsWith('.gguf')) throw new Error(`${fileOrDir} is not a .gguf file`)
    return fileOrDir
  }
  const files = (await readdir(fileOrDir)).filter((f) => f.toLowerCase().endsWith('.gguf') && !f.startsWith('.'))
  if (files.length === 0) throw new Error(`no .gguf file in ${fileOrDir}`)
  const sized = await Promise.all(files.map(async (f) => ({ f, size: (await stat(path.join(fileOrDir, f))).size })))
  sized.sort((a, b) => a.size - b.size || a.f.localeCompare(b.f))
  return path.join(fileOrDir, sized[0]!.f)
}

/**
 * Checks a GGUF header before llama.cpp sees the file: node-llama-cpp's reader hangs on some
 * garbage headers instead of failing, and a model that cannot load must fail fast and by name.
 */
export async function checkGgufHeader(file: string): Promise<void> {
  const handle = await open(file, 'r')
  try {
    const size = (await handle.stat()).size
    const header = Buffer.alloc(24)
    const { bytesRead } = await handle.read(header, 0, 24, 0)
    if (bytesRead < 24 || header.toString('latin1', 0, 4) !== 'GGUF') throw new Error(`${file}: not a GGUF file (no GGUF magic)`)
    const version = header.readUInt32LE(4)
    if (version !== 2 && version !== 3) throw new Error(`${file}: unsupported GGUF version ${version} (expected 2 or 3)`)
    const tensors = header.readBigUInt64LE(8)
    const keys = header.readBigUInt64LE(16)
    // Each tensor info and key/value takes well over 8 bytes, so counts past size/8 mean garbage.
    if (tensors === 0n || tensors > BigInt(size) / 8n || keys > BigInt(size) / 8n) {
      throw new Error(`${file}: corrupt GGUF header (${tensors} tensors, ${keys} metadata keys in ${size} bytes)`)
    }
  } finally {
    await handle.close()
  }
}

/** Whether a folder (or file) holds a GGUF model, without opening it. */
export const hasGguf = (fileOrDir: string): Promise<boolean> => findGgufFile(fileOrDir).then(() => true, () => false)
