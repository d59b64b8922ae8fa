/**
 * llama.cpp's own OpenAI-compatible server (`llama-server`), built from source for the remote listwise
 * backend's test against a real server (test/rerank/llama-server.test.ts). The source comes from PyPI:
 * the llama-cpp-python sdist vendors llama.cpp (GitHub is not reachable here), pinned by sha256.
 *
 *   npm run llama-server -- install     build into ~/.cache/funnel (about 5 minutes on 2 cores; skipped when present)
 *   npm run llama-server -- path        print where the binary is (or would be)
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** The sdist whose vendored llama.cpp is built, and its sha256 as PyPI serves it. */
export const LLAMA_CPP_PYTHON = { version: '0.3.36', sha256: '832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e' } as const

/** `FUNNEL_LLAMA_SERVER_BIN` wins, else ~/.cache/funnel/llama-server-<sdist version>/llama-server. */
export function llamaServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.FUNNEL_LLAMA_SERVER_BIN || path.join(os.homedir(), '.cache', 'funnel', `llama-server-${LLAMA_CPP_PYTHON.version}`, 'llama-server')
}

function run(command: string, args: readonly string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: 'inherit' })
    child.once('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)))
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))))
  })
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export async function installLlamaServer(binary = llamaServerBinary(), log: (line: string) => void = console.error): Promise<'present' | 'built'> {
  if (existsSync(binary)) {
    log(`llama-server is present: ${binary}`)
    return 'present'
  }
  const started = Date.now()
  const work = await mkdtemp(path.join(os.tmpdir(), 'funnel-llama-server-'))
  try {
    log(`[1/4] downloading the llama-cpp-python ${LLAMA_CPP_PYTHON.version} sdist from PyPI`)
    await run('python3', ['-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', `llama-cpp-python==${LLAMA_CPP_PYTHON.version}`, '-d', work])
    const sdist = path.join(work, `llama_cpp_python-${LLAMA_CPP_PYTHON.version}.tar.gz`)
    const digest = await sha256(sdist)
    if (digest !== LLAMA_CPP_PYTHON.sha256) throw new Error(`${sdist}: sha256 ${digest}, expected ${LLAMA_CPP_PYTHON.sha256}`)
    log('[2/4] extracting')
    await run('tar', ['xzf', sdist, '-C', work])
    const source = path.join(work, `llama_cpp_python-${LLAMA_CPP_PYTHON.version}`, 'vendor', 'llama.cpp')
    const build = path.join(work, 'build')
    log('[3/4] configuring (no network features, no web UI, static, AVX2/FMA)')
    await run('cmake', [
      '-S', source, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DBUILD_SHARED_LIBS=OFF',
      '-DLLAMA_CURL=OFF', '-DLLAMA_OPENSSL=OFF', '-DLLAMA_BUILD_UI=OFF', '-DLLAMA_USE_PREBUILT_UI=OFF',
      '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF', '-DLLAMA_BUILD_SERVER=ON',
      '-DGGML_NATIVE=OFF', '-DGGML_AVX2=ON', '-DGGML_FMA=ON', '-DGGML_F16C=ON',
    ])
    log('[4/4] building llama-server (cmake prints its progress; about 5 minutes on 2 cores)')
    await run('cmake', ['--build', build, '--target', 'llama-server', '-j', String(Math.max(1, os.availableParallelism()))])
    const built = (await readdir(path.join(build, 'bin'))).includes('llama-server') ? path.join(build, 'bin', 'llama-server') : undefined
    if (built === undefined) throw new Error(`no llama-server in ${path.join(build, 'bin')}`)
    await mkdir(path.dirname(binary), { recursive: true })
    await copyFile(built, `${binary}.tmp`)
    await run('chmod', ['+x', `${binary}.tmp`])
    await run('mv', [`${binary}.tmp`, binary])
    log(`built ${binary} in ${Math.round((Date.now() - started) / 1000)} s`)
    return 'built'
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const [command] = process.argv.slice(2)
  if (command === 'install') await installLlamaServer()
  else if (command === 'path') process.stdout.write(`${llamaServerBinary()}\n`)
  else {
    process.stderr.write('usage: npm run llama-server -- install | path\n')
    process.exit(2)
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((error: unknown) => {
    process.stderr.write(`llama-server: ${(error as Error).message}\n`)
    process.exit(1)
  })
}
