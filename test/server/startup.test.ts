import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { errorLogLevel, prettyLine, prettyStream, wantsPretty } from '../../src/logging.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Runs src/server.ts to its exit with `env`; returns the exit code and what it printed. */
function runServer(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/server.ts')], {
    cwd: repoRoot,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', FUNNEL_BUILD_DEFAULT_MODEL: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    }),
  )
}

t.test('a bad setting stops the boot with one line naming the variable and the accepted form, no stack', async (t) => {
  const dataDir = t.testdir()
  // FUNNEL_API_KEYS is parsed inside a plugin, after the schema check: the error must still be one line.
  const keys = await runServer({ FUNNEL_API_KEYS: 'mykey', FUNNEL_DATA_DIR: dataDir })
  t.equal(keys.code, 78, 'EX_CONFIG')
  t.equal(keys.stderr.trim().split('\n').length, 1, `one line: ${keys.stderr}`)
  t.match(keys.stderr, /FUNNEL_API_KEYS/)
  t.match(keys.stderr, /'<key>:rw' or '<key>:ro'/)
  t.notMatch(keys.stderr, /\n\s+at /, 'no stack trace')

  const port = await runServer({ PORT: 'eighty', FUNNEL_DATA_DIR: dataDir })
  t.equal(port.code, 78)
  t.equal(port.stderr.trim().split('\n').length, 1, `one line: ${port.stderr}`)
  t.match(port.stderr, /PORT/)
})

t.test('pretty log lines: time, level, message, fields; stacks only with errors', async (t) => {
  const line = prettyLine(JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 1, 12, 34, 56, 789), pid: 1, hostname: 'h', reqId: 'r-1', msg: 'Server listening', port: 8080 }))
  t.equal(line, '12:34:56.789 INFO  Server listening  reqId=r-1 port=8080')
  const withError = prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { message: 'bad', stack: 'Error: bad\n    at f (x.js:1:1)' } }))
  t.match(withError, /^00:00:00\.000 ERROR boom\n    Error: bad\n        at f/)
  t.equal(prettyLine('not json'), 'not json', 'non-JSON passes through')
  t.equal(prettyLine(JSON.stringify({ level: 40, time: 0, msg: 'x', text: 'two words' })), '00:00:00.000 WARN  x  text="two words"')

  const written: string[] = []
  const stream = prettyStream({ write: (s: string) => written.push(s) } as unknown as NodeJS.WritableStream)
  stream.write(JSON.stringify({ level: 30, time: 0, msg: 'a' }) + '\n' + JSON.stringify({ level: 30, time: 0, msg: 'b' }).slice(0, 10))
  stream.write(JSON.stringify({ level: 30, time: 0, msg: 'b' }).slice(10) + '\n')
  t.same(written, ['00:00:00.000 INFO  a\n', '00:00:00.000 INFO  b\n'], 'lines split across chunks are joined')

  t.equal(wantsPretty('auto', true), true)
  t.equal(wantsPretty('auto', false), false, 'piped output stays JSON for log shippers')
  t.equal(wantsPretty('json', true), false)
  t.equal(wantsPretty('pretty', false), true)
})

t.test('warm-up and shedding refusals are not logged as errors', async (t) => {
  t.equal(errorLogLevel(503, 'not_ready'), 'info')
  t.equal(errorLogLevel(503, 'overloaded'), 'warn')
  t.equal(errorLogLevel(500, 'internal_error'), 'error')
  t.equal(errorLogLevel(507, 'storage_full'), 'error')
})
