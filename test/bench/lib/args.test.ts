import { spawnSync } from 'node:child_process'
import t from 'tap'
import { exitWithUsage, numberList, optionalPositiveInt, parseCommand, parseFlags, positiveInt, repeated } from '../../../bench/lib/args.js'
import { repoRoot } from '../../../bench/lib/paths.js'

const USAGE = 'usage: bench [--docs N]\n'
const options = { docs: { type: 'string', default: '500' }, reuse: { type: 'boolean', default: false } } as const

t.test('parseCommand: the options, with their defaults', async (t) => {
  t.same(parseCommand(USAGE, options, []), { docs: '500', reuse: false })
  t.same(parseCommand(USAGE, options, ['--docs', '20', '--reuse']), { docs: '20', reuse: true })
  t.throws(() => parseCommand(USAGE, options, ['--nope']), /Unknown option '--nope'/, 'strict: an unknown option is refused')
})

t.test('parseCommand: --help prints the usage to stdout and exits 0', async (t) => {
  // In a child process: the exit is real, and this process's stdout carries tap's own output.
  const script = `import { parseCommand } from './bench/lib/args.ts'; parseCommand('usage: bench', {}, ['--help']); console.log('not reached')`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' })
  t.equal(child.status, 0)
  t.equal(child.stdout, 'usage: bench\n')
})

t.test('exitWithUsage: the usage to stderr, exit 2', async (t) => {
  const written: string[] = []
  t.intercept(process.stderr, 'write', { value: (chunk: string) => written.push(chunk) })
  t.intercept(process, 'exit', {
    value: (code?: number) => {
      throw new Error(`exit ${code}`)
    },
  })
  t.throws(() => exitWithUsage('usage: bench'), /exit 2/)
  t.same(written, ['usage: bench\n'], 'a newline is added when the usage lacks one')
})

t.test('positiveInt and optionalPositiveInt name the option and the bad value', async (t) => {
  t.equal(positiveInt('docs', '20'), 20)
  t.throws(() => positiveInt('docs', '0'), /--docs must be a positive integer, got 0/)
  t.throws(() => positiveInt('docs', '1.5'), /got 1\.5/)
  t.throws(() => positiveInt('docs', 'many'), /got many/)
  t.equal(optionalPositiveInt('depth', undefined), undefined)
  t.equal(optionalPositiveInt('depth', '3'), 3)
})

t.test('numberList: a comma-separated list of numbers', async (t) => {
  t.same(numberList('concurrency', '1,8,32'), [1, 8, 32])
  t.same(numberList('ratio', '1.2, 2'), [1.2, 2])
  t.throws(() => numberList('concurrency', '1,x,3'), /--concurrency: 'x' is not a number/)
})

t.test('parseFlags and repeated', async (t) => {
  const argv = ['--stage', 'listwise:a', '--top', '20', '--verbose', '--stage', 'pointwise:b']
  const flags = parseFlags(argv)
  t.equal(flags.get('top'), '20')
  t.equal(flags.get('verbose'), 'true', 'a flag without a value reads as true')
  t.equal(flags.get('stage'), 'pointwise:b', 'the last of a repeated flag')
  t.same(repeated(argv, 'stage'), ['listwise:a', 'pointwise:b'])
  t.throws(() => parseFlags(['stray']), /unexpected argument 'stray'/)
})
