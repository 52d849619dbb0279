/**
 * The `shoal` command line. Every command talks to a `ShoalApi`: the repo's running daemon, or
 * the repo opened in process where a command can run offline. A command line loads the module of
 * the command it names, and the parser only where it is needed (quick.ts); the top-level help
 * needs neither.
 */
import type { Command } from 'commander'
import { VERSION } from '../version.js'
import { GLOBAL_OPTIONS, commandWord, topHelpWanted } from './argv.js'
import { COMMANDS, commandNamed } from './commands/index.js'
import type { CommandEntry } from './commands/index.js'
import { DESCRIPTION, writeTopHelp } from './help.js'
import { exitCodeOf, reportError } from './output.js'
import { readQuick } from './quick.js'

/**
 * The command-line parser with the commands named in `only` (all of them when it is not given):
 * help, errors and completion of a command need only the command itself
 */
export async function buildProgram (only?: readonly string[]): Promise<Command> {
  const { Command } = await import('commander')
  const program = new Command('shoal')
    .description(DESCRIPTION)
    .version(VERSION)
    // commander's own errors (unknown option, bad value, missing argument) read like every
    // other: one line, prefixed "shoal:"
    .configureOutput({ outputError: (message, write) => { write(usageLine(message)) } })
    .exitOverride()
  for (const o of GLOBAL_OPTIONS) program.option(o.flags, o.description)
  const entries: readonly CommandEntry[] = only == null ? COMMANDS : COMMANDS.filter(c => only.includes(c.usage.split(' ')[0]))
  const modules = await Promise.all(entries.map(async e => e.load()))
  for (const [i, e] of entries.entries()) {
    modules[i].register(program.command(e.usage).description(e.description))
  }
  // subcommands report usage errors through the same exit path
  const override = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.commands.forEach(override)
  }
  override(program)
  return program
}

/** A commander error message as one line: "shoal: PROBLEM (run with --help for usage)" */
export function usageLine (message: string): string {
  const text = message.replace(/^error: /, '').split('\n').map(l => l.trim()).filter(l => l !== '').join(' ').replace(/ is invalid\. /, ' is invalid: ')
  return `shoal: ${text} (run with --help for usage)\n`
}

/**
 * The commands a command line needs registered: the one it names (`shoal help cat`: cat), or all
 * of them where it names none that exists (so the parser can say which it meant) or asks for the
 * completion script, which is written from the whole tree
 */
function commandsFor (args: readonly string[]): readonly string[] | undefined {
  let word = commandWord(args)
  if (word === 'help') word = commandWord(args.slice(args.indexOf('help') + 1))
  if (word == null || word === 'completion' || commandNamed(word) == null) return undefined
  return [word]
}

/** Run the CLI; resolves with the exit code */
export async function main (argv: string[] = process.argv): Promise<number> {
  const args = argv.slice(2)
  const help = topHelpWanted(args)
  if (help != null) return writeTopHelp(help)
  let parsed = false
  try {
    // a plain command line runs without the parser; the rest (help, errors) go through it
    const quick = await readQuick(args)
    if (quick != null) {
      await quick.run()
    } else {
      parsed = true
      const program = await buildProgram(commandsFor(args))
      await program.parseAsync(argv)
    }
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err: any) {
    // the parser's own errors come only where it was loaded
    const { CommanderError } = parsed ? await import('commander') : { CommanderError: undefined }
    if (CommanderError != null && err instanceof CommanderError) {
      // commander has printed its own message
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0
      // help asked for (`shoal help`) is a success; help shown because a command lacks its
      // subcommand (`shoal pin`) went to stderr and is a usage error
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2
      return 2
    }
    reportError(err)
    return exitCodeOf(err)
  }
}
