// npm postinstall: compiles a second copy of hnswlib-node's addon with AVX2 and FMA, beside the one
// npm built. hnswlib chooses its distance kernels at compile time (`#ifdef __AVX__`) and node-gyp's
// default flags give SSE only; the AVX2 copy searches and builds 768-dim indexes ~1.5x faster
// (docs/benchmarks/million-vectors.md). src/retrieval/hnswlib-binding.ts loads it only on a CPU that
// reports avx2 and fma, so an image built here still runs on an older CPU (with the SSE addon).
// Plain JavaScript, no dependencies: it runs inside `npm ci`, before anything is compiled.
// Never fails the install: on any error it says why and the SSE addon is used.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { patchAddon, patchHnswalg } from './hnswlib-candidate-pool.mjs'

const OUT = path.join('node_modules', '.cache', 'funnel', 'hnswlib-avx2')
const say = (message) => process.stdout.write(`funnel: ${message}\n`)

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp
  const npmDir = path.dirname(path.dirname(process.env.npm_execpath ?? ''))
  const bundled = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  return existsSync(bundled) ? bundled : undefined
}

function main() {
  if (process.env.FUNNEL_HNSWLIB_AVX2 === 'off') return say('FUNNEL_HNSWLIB_AVX2=off: not building the AVX2 hnswlib addon')
  if (process.platform !== 'linux' || process.arch !== 'x64') return say(`no AVX2 hnswlib addon on ${process.platform}-${process.arch} (x64 Linux only); the npm build is used`)
  const require = createRequire(path.join(process.cwd(), 'package.json'))
  let source
  try {
    source = path.dirname(require.resolve('hnswlib-node/package.json'))
  } catch {
    return say('hnswlib-node is not installed; skipping its AVX2 build')
  }
  const gyp = nodeGyp()
  if (gyp === undefined) return say('node-gyp not found (npm_config_node_gyp unset); the SSE hnswlib addon will be used')
  rmSync(OUT, { recursive: true, force: true })
  mkdirSync(OUT, { recursive: true })
  for (const part of ['binding.gyp', 'package.json', 'src']) cpSync(path.join(source, part), path.join(OUT, part), { recursive: true })
  const pool = applyCandidatePool(path.join(OUT, 'src'))
  const started = Date.now()
  const result = spawnSync(process.execPath, [gyp, 'rebuild', '--loglevel=error'], {
    cwd: OUT,
    env: { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} -O3 -mavx2 -mfma`.trim() },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  })
  const addon = path.join(OUT, 'build', 'Release', 'addon.node')
  if (result.status !== 0 || !existsSync(addon)) {
    rmSync(OUT, { recursive: true, force: true })
    return say(`the AVX2 hnswlib addon did not build (${(result.stderr ?? String(result.error)).trim().split('\n').slice(-3).join(' | ')}); the SSE addon will be used`)
  }
  // Keep only the addon: the object files are ~10 MB and nothing else is needed at run time.
  for (const part of ['src', path.join('build', 'Release', 'obj.target'), path.join('build', 'Release', '.deps')]) rmSync(path.join(OUT, part), { recursive: true, force: true })
  say(`built the AVX2 hnswlib addon in ${((Date.now() - started) / 1000).toFixed(0)} s (${addon}); ${pool}`)
}

/** Applies the candidate-pool patch (hnswlib-candidate-pool.mjs) to the copied sources; on a mismatch the copy stays as npm ships it. */
function applyCandidatePool(src) {
  const files = { hnswalg: path.join(src, 'hnswlib', 'hnswalg.h'), addon: path.join(src, 'addon.cc') }
  try {
    const hnswalg = patchHnswalg(readFileSync(files.hnswalg, 'utf8'))
    const addon = patchAddon(readFileSync(files.addon, 'utf8'))
    writeFileSync(files.hnswalg, hnswalg)
    writeFileSync(files.addon, addon)
    return 'with the candidate pool'
  } catch (error) {
    return `without the candidate pool (${error instanceof Error ? error.message : String(error)})`
  }
}

try {
  main()
} catch (error) {
  say(`the AVX2 hnswlib addon was not built: ${error instanceof Error ? error.message : String(error)}`)
}
