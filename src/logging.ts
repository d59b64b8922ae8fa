/**
 * Log output: pino's JSON lines for machines, or one readable line per entry for a person at a
 * terminal (`LOG_FORMAT=auto` picks by whether stdout is a TTY). No dependency: the pretty form is a
 * small stream that reformats pino's own JSON, so both forms carry the same fields.
 */
import { Writable } from 'node:stream'

export type LogFormat = 'auto' | 'json' | 'pretty'

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
/** Fields every entry has that the pretty line shows in its own place or leaves out. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err', 'v'])

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value)
}

/** One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value …` (and the stack, for errors). */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : ''
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5)
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
  const err = entry.err as { stack?: string; message?: string } | undefined
  const stack = err === undefined ? '' : `\n    ${(err.stack ?? err.message ?? '').split('\n').join('\n    ')}`
  return `${time} ${level} ${String(entry.msg ?? '')}${fields.length > 0 ? '  ' + fields.join(' ') : ''}${stack}`
}

/** A stream for pino's `stream` option that writes pretty lines to `out`. */
export function prettyStream(out: NodeJS.WritableStream = process.stdout): Writable {
  let pending = ''
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString()
      let newline: number
      while ((newline = pending.indexOf('\n')) >= 0) {
        out.write(prettyLine(pending.slice(0, newline)) + '\n')
        pending = pending.slice(newline + 1)
      }
      callback()
    },
  })
}

/** True when the logs should be pretty: asked for, or `auto` with a terminal on stdout. */
export function wantsPretty(format: LogFormat, isTty: boolean = process.stdout.isTTY === true): boolean {
  return format === 'pretty' || (format === 'auto' && isTty)
}

/**
 * The level a request error is logged at. Expected refusals of a healthy server (not ready during
 * warm-up, shedding, a deadline) are operations news, not faults: info without a stack.
 */
export function errorLogLevel(statusCode: number, code: string): 'error' | 'info' | 'warn' {
  if (code === 'not_ready') return 'info'
  if (code === 'overloaded' || code === 'request_timeout' || code === 'rate_limited') return 'warn'
  return statusCode >= 500 ? 'error' : 'info'
}
