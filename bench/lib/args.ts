/**
 * Command-line parsing every bench shares: node's parseArgs plus `--help`, and the number checks.
 *
 * @example
 *   const values = parseCommand(USAGE, { docs: { type: 'string', default: '500' } })
 *   const docs = positiveInt('docs', values.docs)
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>
type Values<T extends Options> = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values']

/** The parsed `--name value` options; `--help` prints `usage` to stdout and exits 0. */
export function parseCommand<const T extends Options>(usage: string, options: T, args = process.argv.slice(2)): Values<T> {
  const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', default: false } }, strict: true })
  const { help, ...rest } = values as Record<string, unknown>
  if (help === true) {
    process.stdout.write(usage.endsWith('\n') ? usage : `${usage}\n`)
    process.exit(0)
  }
  return rest as Values<T>
}

/** A required option is missing: usage to stderr, exit 2. */
export function exitWithUsage(usage: string): never {
  process.stderr.write(usage.endsWith('\n') ? usage : `${usage}\n`)
  process.exit(2)
}

export function positiveInt(name: string, raw: string): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`)
  return n
}

/** `positiveInt`, or undefined when the option was not given. */
export const optionalPositiveInt = (name: string, raw: string | undefined): number | undefined => (raw === undefined ? undefined : positiveInt(name, raw))

/** A comma-separated list of numbers, such as `--concurrency 1,8,32`. */
export function numberList(name: string, raw: string): number[] {
  const numbers = raw.split(',').map((part) => Number(part.trim()))
  const bad = numbers.findIndex((n) => !Number.isFinite(n))
  if (bad >= 0) throw new Error(`--${name}: '${raw.split(',')[bad]}' is not a number (a comma-separated list is expected)`)
  return numbers
}

/**
 * `--name value` pairs into a map, for scripts that read their flags lazily; a flag without a value
 * reads as 'true'. A flag given twice keeps its last value (`repeated` collects them all).
 */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`)
    const next = argv[i + 1]
    if (next === undefined || next.startsWith('--')) flags.set(arg.slice(2), 'true')
    else flags.set(arg.slice(2), next), i++
  }
  return flags
}

/** Every value of a repeatable flag, in order: `--stage a --stage b` -> ['a', 'b']. */
export const repeated = (argv: readonly string[], name: string): string[] => argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1]!] : []))
