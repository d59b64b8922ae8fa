import wabt from 'wabt'

/** WebAssembly text to module bytes (wabt, SIMD enabled), validated. */
export async function compileWat(name: string, text: string): Promise<Uint8Array> {
  const tools = await wabt()
  const module = tools.parseWat(name, text, { simd: true })
  try {
    module.validate()
    return module.toBinary({}).buffer
  } finally {
    module.destroy()
  }
}
