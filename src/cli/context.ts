import type { Globals } from './output.js'
import type { CallName } from '../interface/calls.js'
import type { ShoalApi } from '../interface/types.js'
import type { Command } from 'commander'

/**
 * A commander action that runs `fn` with the calls it makes (`uses`) of the repo's `ShoalApi`: the
 * running daemon if there is one (waiting for one that is starting), else, as the calls allow
 * (`access` in the table of calls), the repo opened in process for reading (without its lock) or
 * for writing (under it).
 */
export function withApi<K extends CallName> (what: string, uses: readonly K[], fn: (api: Pick<ShoalApi, K>, globals: Globals & Record<string, any>, args: string[]) => Promise<void>) {
  return async (...params: any[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command
    const globals = cmd.optsWithGlobals() as Globals & Record<string, any>
    const args = params.slice(0, -2).flat().filter((a): a is string => typeof a === 'string')
    // loaded when a command runs, so --help and usage errors load nothing of the peer
    const [{ openApi }, { accessOf }] = await Promise.all([import('../api/connect.js'), import('../interface/calls.js')])
    const opened = await openApi({
      repo: globals.repo,
      access: accessOf(uses),
      what,
      onWait: (pid) => { process.stderr.write(`shoal: waiting for the daemon (pid ${pid}) to start\n`) }
    })
    try {
      await fn(opened.api, globals, args)
    } finally {
      await opened.close()
    }
  }
}

/**
 * A value an option's parser refuses. Commander reports an error with this code from a parser as
 * an invalid value of that option (its own InvalidArgumentError carries the same code); defined
 * here so that the commands, whose parsers these are, load without the parser.
 */
export class InvalidValueError extends Error {
  readonly code = 'commander.invalidArgument'
  readonly exitCode = 1

  constructor (message: string) {
    super(message)
    this.name = 'InvalidValueError'
  }
}

export function globalsOf (params: any[]): Globals & Record<string, any> {
  return (params[params.length - 1] as Command).optsWithGlobals()
}

/** commander parser for a whole number of 0 or more */
export function nonNegativeInt (value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidValueError('must be a whole number of 0 or more')
  }
  return n
}

/** commander parser for a whole number of 1 or more */
export function positiveInt (value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidValueError('must be a whole number of 1 or more')
  }
  return n
}

/** commander collector for repeatable options */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** commander parser for a duration (`90s`, `30m`, `48h`, `7d`, `500ms`), in ms */
export function duration (value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value)
  const ms = m != null ? Number(m[1]) * DURATION_UNITS[m[2]] : NaN
  if (!Number.isSafeInteger(ms)) throw new InvalidValueError('must be a whole number with a unit: ms, s, m, h or d (such as 30s or 48h)')
  return ms
}
