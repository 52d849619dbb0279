#!/usr/bin/env node
import v8 from 'node:v8'
import { DAEMON_ENV, DAEMON_NODE_OPTIONS, DAEMON_REEXEC_ENV, DAEMON_V8_FLAGS } from '../src/constants.js'

/** The command named on the command line, past the global options */
function commandOf (args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--repo') i++
    else if (!a.startsWith('-')) return a
  }
  return undefined
}

// libp2p 3 needs Node.js 22 or newer: say so plainly rather than fail somewhere inside it
const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 22) {
  process.stderr.write(`shoal: Node.js 22 or newer is required (this is ${process.version})\n`)
  process.exit(1)
}

if (commandOf(process.argv.slice(2)) === 'start') {
  // heap sizes are fixed when V8 starts, and malloc reads its tuning once, so the daemon
  // re-executes itself with its options and environment: execve keeps the process id, so
  // whatever started it still watches the daemon itself
  if (process.env[DAEMON_REEXEC_ENV] == null && typeof process.execve === 'function') {
    try {
      process.execve(process.execPath, [process.execPath, ...DAEMON_NODE_OPTIONS, ...process.execArgv, ...process.argv.slice(1)], { ...DAEMON_ENV, ...process.env, [DAEMON_REEXEC_ENV]: '1' })
    } catch {
      // not supported here: run with the defaults
    }
  }
  v8.setFlagsFromString(DAEMON_V8_FLAGS.join(' '))
}

// block writes (each synced) and file reads share libuv's pool: give them room. It must be set
// before the pool first runs, so the CLI is loaded after.
process.env.UV_THREADPOOL_SIZE ??= '16'
const { main } = await import('../src/cli/index.js')

process.exitCode = await main()
