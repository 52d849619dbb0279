import { startDaemon } from '../../api/index.js'
import { SHUTDOWN_TIMEOUT } from '../../constants.js'
import { collect, globalsOf } from '../context.js'
import { printResult, reportError } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('start')
    .description('run the peer in the foreground until SIGINT or SIGTERM')
    .option('--listen <multiaddr>', 'listen on this multiaddr instead of the config\'s (repeatable; port 0 picks a free port)', collect)
    .option('--api <host:port>', 'control API address instead of the config\'s (loopback only; port 0 picks a free port)')
    .option('--init', 'create the repo first if there is none')
    .action(async (opts: { listen?: string[], api?: string, init?: boolean }, ...rest: any[]) => {
      const globals = globalsOf(rest)
      const daemon = await startDaemon({ repo: globals.repo, listen: opts.listen, api: opts.api, init: opts.init })
      const id = await daemon.peer.id()
      printResult(globals, [
        `shoal peer ${id.peerId} (repo ${daemon.repo})`,
        ...id.addresses.map(a => `listening on ${a}`),
        `control API on http://${daemon.apiAddress}`,
        'ready'
      ], { peerId: id.peerId, addresses: id.addresses, api: daemon.apiAddress, repo: daemon.repo })

      await new Promise<void>((resolve) => {
        const shutdown = (signal: string): void => {
          process.off('SIGINT', onInt)
          process.off('SIGTERM', onTerm)
          if (globals.json !== true) process.stderr.write(`shoal: ${signal} received, shutting down\n`)
          const timer = setTimeout(() => {
            reportError(new Error(`shutdown took longer than ${SHUTDOWN_TIMEOUT} ms; exiting`))
            process.exit(1)
          }, SHUTDOWN_TIMEOUT)
          timer.unref()
          daemon.stop().then(resolve, (err) => {
            reportError(err)
            process.exitCode = 1
            resolve()
          })
        }
        const onInt = (): void => { shutdown('SIGINT') }
        const onTerm = (): void => { shutdown('SIGTERM') }
        process.on('SIGINT', onInt)
        process.on('SIGTERM', onTerm)
      })
    })
}
