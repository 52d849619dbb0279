/**
 * A command line read without the command-line parser. Loading commander (and the parts of Node
 * it brings) costs about half again the start-up of Node itself, so the plain command lines that
 * scripts run in loops (`shoal --repo R cat CID`, `shoal --json ls`) are read here, from what the
 * command's own `register` declares. Whatever this reader does not read exactly as commander
 * would (help, the version, `--`, short option groups, negative numbers, an unknown option, a
 * missing or extra argument, a value its parser refuses, a command that uses more of commander
 * than options and subcommands) it leaves to commander, which gives the help and the errors.
 * Read here or by commander, a command line runs the same action with the same arguments and
 * options (test/cli/quick.spec.ts holds the two to it).
 */
import { GLOBAL_OPTIONS } from './argv.js'
import { commandNamed } from './commands/index.js'
import type { Command } from 'commander'

/** An option as commander takes it: `--name`, `-o, --output <path>`; value-less options are flags */
interface Declared {
  long: string
  short?: string
  /** Where commander keeps its value: the long name in camelCase */
  key: string
  takesValue: boolean
  parse?: (value: string, previous: any) => unknown
}

type Action = (...params: any[]) => unknown

/** What a command line resolved to: call `run` to run the command's action */
export interface QuickCommand {
  /** The command's words: ['pin', 'ls'] */
  words: string[]
  /** The action's arguments, then its options, as commander passes them (without the command object) */
  args: unknown[]
  options: Record<string, unknown>
  /** The options of the command and the program together, as `optsWithGlobals()` gives them */
  globals: Record<string, unknown>
  run(): Promise<unknown>
}

/** Thrown while recording when a command uses what this reader does not know */
class Unsupported extends Error {}

/** Flags this reader takes: an optional one-letter short, a long name, a required value or none */
const FLAGS = /^(?:-([A-Za-z]), )?--([a-z][a-z0-9-]*)(?: <[^<>]+>)?$/

/**
 * The part of commander's `Command` that commands' `register` calls, recording what it declares;
 * any other method is missing, so a command that calls one is left to commander
 */
class Recorder {
  readonly options: Declared[] = []
  readonly defaults: Record<string, unknown> = {}
  readonly subcommands = new Map<string, Recorder>()
  /** The command's arguments from its usage (`cat <path>`): required or not, variadic or not */
  readonly operands: Array<{ required: boolean, variadic: boolean }> = []
  handler?: Action

  constructor (usage: string) {
    for (const word of usage.split(' ').slice(1)) {
      const m = /^([<[])[^<>[\]]+?(\.\.\.)?[>\]]$/.exec(word)
      if (m == null) throw new Unsupported(usage)
      this.operands.push({ required: m[1] === '<', variadic: m[2] != null })
    }
  }

  description (): this {
    return this
  }

  command (usage: string): Recorder {
    const sub = new Recorder(usage)
    this.subcommands.set(usage.split(' ')[0], sub)
    return sub
  }

  option (flags: string, _description: string, parseOrDefault?: unknown, defaultValue?: unknown): this {
    const m = FLAGS.exec(flags)
    if (m == null || m[2].startsWith('no-')) throw new Unsupported(flags)
    const parse = typeof parseOrDefault === 'function' ? parseOrDefault as Declared['parse'] : undefined
    const key = m[2].replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
    const value = parse != null ? defaultValue : parseOrDefault
    if (value !== undefined) this.defaults[key] = value
    this.options.push({ long: `--${m[2]}`, short: m[1] != null ? `-${m[1]}` : undefined, key, takesValue: flags.endsWith('>'), parse })
    return this
  }

  action (fn: Action): this {
    this.handler = fn
    return this
  }
}

/** What this reader never reads: help, the version, the end of options, short groups, negative numbers */
function leftToCommander (arg: string): boolean {
  return ['-h', '--help', '-V', '--version', '--'].includes(arg) || /^-[^-]./.test(arg)
}

/**
 * Take the options `declared` knows out of `args`, into `values` (a value through the option's
 * parser, given the value before it); returns the rest, or undefined when an option lacks its
 * value, its parser refuses it, or (unless `passOn`, as the program passes what it does not know
 * to the command) an option is unknown
 */
function takeOptions (declared: Declared[], args: readonly string[], values: Record<string, unknown>, passOn: boolean): string[] | undefined {
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const flag = eq > 2 ? arg.slice(0, eq) : arg
    const option = arg.length > 1 && arg.startsWith('-') ? declared.find(o => o.long === flag || o.short === flag) : undefined
    if (option == null || (eq > 2 && !option.takesValue)) {
      if (!passOn && arg.length > 1 && arg.startsWith('-')) return undefined
      rest.push(arg)
      continue
    }
    if (!option.takesValue) {
      values[option.key] = true
      continue
    }
    const value = eq > 2 ? arg.slice(eq + 1) : args[++i]
    if (value === undefined) return undefined
    try {
      values[option.key] = option.parse != null ? option.parse(value, values[option.key]) : value
    } catch {
      return undefined
    }
  }
  return rest
}

/**
 * The command a command line runs, read as commander would read it, or undefined where it is
 * left to commander
 */
export async function readQuick (args: readonly string[]): Promise<QuickCommand | undefined> {
  if (args.some(leftToCommander)) return undefined
  const program = new Recorder('shoal')
  for (const o of GLOBAL_OPTIONS) program.option(o.flags, o.description)
  const programValues: Record<string, unknown> = {}
  const rest = takeOptions(program.options, args, programValues, true)
  const name = rest?.[0]
  // completion writes the whole tree, which takes commander
  if (rest == null || name == null || name === 'completion' || name.startsWith('-')) return undefined
  const entry = commandNamed(name)
  if (entry == null) return undefined
  let command = new Recorder(entry.usage)
  try {
    (await entry.load()).register(command as unknown as Command)
  } catch (err) {
    if (err instanceof Unsupported || err instanceof TypeError) return undefined
    throw err
  }
  const words = [name]
  const chain: Array<Record<string, unknown>> = [programValues]
  let operands = rest.slice(1)
  for (;;) {
    const values: Record<string, unknown> = { ...command.defaults }
    chain.unshift(values)
    if (command.subcommands.size === 0) {
      const left = takeOptions(command.options, operands, values, false)
      if (left == null || command.handler == null) return undefined
      operands = left
      break
    }
    // a command with subcommands names one first, and has neither options nor an action of its own
    const sub = command.subcommands.get(operands[0])
    if (sub == null || command.options.length > 0 || command.handler != null) return undefined
    words.push(operands[0])
    operands = operands.slice(1)
    command = sub
  }
  const declared = command.operands
  const required = declared.filter(o => o.required).length
  if (operands.length < required || (declared.at(-1)?.variadic !== true && operands.length > declared.length)) return undefined
  const actionArgs = declared.map((o, i) => o.variadic ? operands.slice(i) : operands[i])
  const options = chain[0]
  // the program's options win over the command's, as in commander's optsWithGlobals
  const globals = Object.assign({}, ...chain)
  const handler = command.handler as Action
  const cmd = { opts: () => options, optsWithGlobals: () => ({ ...globals }) }
  return { words, args: actionArgs, options, globals, run: async () => handler(...actionArgs, options, cmd) }
}
