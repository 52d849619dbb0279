/**
 * The `shoal` command line. Every command talks to a `ShoalApi`: the repo's running daemon, or
 * the repo opened in process where a command can run offline.
 */
import { Command, CommanderError } from 'commander'
import { VERSION } from '../version.js'
import { register as cat } from './commands/cat.js'
import { register as connect } from './commands/connect.js'
import { register as fetch } from './commands/fetch.js'
import { register as gc } from './commands/gc.js'
import { register as get } from './commands/get.js'
import { register as id } from './commands/id.js'
import { register as init } from './commands/init.js'
import { register as ls } from './commands/ls.js'
import { register as peers } from './commands/peers.js'
import { register as perf } from './commands/perf.js'
import { register as pin } from './commands/pin.js'
import { register as publish } from './commands/publish.js'
import { register as start } from './commands/start.js'
import { register as stats } from './commands/stats.js'
import { register as verify } from './commands/verify.js'
import { register as find } from './commands/find.js'
import { register as provide } from './commands/provide.js'
import { register as status } from './commands/status.js'
import { register as swarm } from './commands/swarm.js'
import { register as watch } from './commands/watch.js'
import { register as exportCar } from './commands/export.js'
import { register as importCar } from './commands/import.js'
import { register as testnet } from './commands/testnet.js'
import { register as completion } from './commands/completion.js'
import { exitCodeOf, reportError } from './output.js'

export function buildProgram (): Command {
  const program = new Command('shoal')
    .description('a peer-to-peer gossip and content-distribution network')
    .version(VERSION)
    .option('--repo <dir>', 'repo directory (default: $SHOAL_REPO, else ~/.shoal)')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    // commander's own errors (unknown option, bad value, missing argument) read like every
    // other: one line, prefixed "shoal:"
    .configureOutput({ outputError: (message, write) => { write(usageLine(message)) } })
    .exitOverride()
  for (const register of [init, start, id, publish, fetch, cat, get, ls, pin, gc, verify, peers, connect, find, provide, status, watch, swarm, stats, perf, exportCar, importCar, testnet, completion]) {
    register(program)
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

/** Run the CLI; resolves with the exit code */
export async function main (argv: string[] = process.argv): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err: any) {
    if (err instanceof CommanderError) {
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
