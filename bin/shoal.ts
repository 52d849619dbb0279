#!/usr/bin/env node
import module from 'node:module'
import { DAEMON_ENV, DAEMON_NODE_OPTIONS, DAEMON_REEXEC_ENV, DAEMON_V8_FLAGS } from '../src/constants.js'
import { commandWord, topHelpWanted } from '../src/cli/argv.js'

/** libp2p 3 needs Node.js 22 or newer */
const MIN_NODE_MAJOR = 22

/**
 * The Node.js that comes with shoal (the registry's `node` package, an optional dependency), for
 * machines whose own Node is older than libp2p needs; undefined when it was not installed
 */
function bundledNode (): string | undefined {
  try {
    const pkg = module.createRequire(import.meta.url).resolve('node/package.json')
    return pkg.slice(0, -'package.json'.length) + 'bin/node'
  } catch {
    return undefined
  }
}

/**
 * Run this same command under `node` and end as it ends. The child shares the terminal, so
 * Ctrl-C reaches it directly; signals sent to this process alone (a supervisor's SIGTERM) are
 * passed on.
 */
async function runUnder (node: string): Promise<never> {
  const { spawn } = await import('node:child_process')
  const child = spawn(node, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' })
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`shoal: cannot run the Node.js that came with shoal (${node}): ${err.message}\n`)
      resolve([1, null])
    })
    child.on('exit', (c, s) => { resolve([c, s]) })
  })
  if (signal != null) {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, forward)
    process.kill(process.pid, signal)
  }
  process.exit(code ?? 1)
}

if (Number(process.versions.node.split('.')[0]) < MIN_NODE_MAJOR) {
  // npm scripts and npx put the bundled Node first on PATH; a global install runs under whatever
  // `node` the user has, so the bundled one is looked for here
  const node = bundledNode()
  if (node == null) {
    process.stderr.write(`shoal: Node.js ${MIN_NODE_MAJOR} or newer is required (this is ${process.version}), and the Node.js that comes with shoal is not installed: install Node.js ${MIN_NODE_MAJOR}+, or install shoal again with optional dependencies\n`)
    process.exit(1)
  }
  await runUnder(node)
}

// the version is the one question asked without a repo, in scripts, often: answered before the
// command line's parser is loaded
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { VERSION } = await import('../src/version.js')
  process.stdout.write(`${VERSION}\n`)
  process.exit(0)
}

// V8 keeps the compiled code of shoal and its libraries on disk between runs, so a command run
// again starts in a fraction of the time
module.enableCompileCache?.()

// the top-level help is written from the command table alone: neither the parser nor any
// command is loaded for it
const help = topHelpWanted(args)
if (help != null) {
  const { writeTopHelp } = await import('../src/cli/help.js')
  process.exit(writeTopHelp(help))
}

if (commandWord(args) === 'start') {
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
  const v8 = await import('node:v8')
  v8.setFlagsFromString(DAEMON_V8_FLAGS.join(' '))
}

// block writes (each synced) and file reads share libuv's pool: give them room. It must be set
// before the pool first runs, so the CLI is loaded after.
process.env.UV_THREADPOOL_SIZE ??= '16'
const { main } = await import('../src/cli/index.js')

process.exitCode = await main()
