import { BOOTSTRAP_LOG_INTERVAL, SHUTDOWN_TIMEOUT } from '../../constants.js'
import { collect, globalsOf } from '../context.js'
import { printResult, reportError } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--listen <multiaddr>', 'listen on this multiaddr instead of the config\'s (repeatable; port 0 picks a free port)', collect)
    .option('--api <host:port>', 'control API address instead of the config\'s (loopback only; port 0 picks a free port)')
    .option('--init', 'create the repo first if there is none')
    .option('--swarm <name|file>', 'run with this swarm\'s config (local, public, a name from configs/, or a file) instead of the repo\'s')
    .option('--gateway <host:port>', 'HTTP gateway address instead of the config\'s (port 0 picks a free port)')
    .option('--no-gateway', 'do not serve the HTTP gateway')
    .action(async (opts: { listen?: string[], api?: string, init?: boolean, swarm?: string, gateway?: string | boolean }, ...rest: any[]) => {
      const globals = globalsOf(rest)
      const gateway = opts.gateway === false ? false : typeof opts.gateway === 'string' ? opts.gateway : undefined
      const { startDaemon } = await import('../../api/daemon.js')
      const daemon = await startDaemon({ repo: globals.repo, listen: opts.listen, api: opts.api, init: opts.init, swarm: opts.swarm, gateway })
      const announce = async (): Promise<void> => {
        const id = await daemon.peer.id()
        printResult(globals, [
          `shoal peer ${id.peerId} (repo ${daemon.repo}, swarm ${daemon.peer.config.swarm})`,
          ...id.addresses.map(a => `listening on ${a}`),
          `control API on http://${daemon.apiAddress}`,
          `dashboard on http://${daemon.apiAddress}/dashboard`,
          ...(daemon.gatewayAddress != null ? [`gateway on http://${daemon.gatewayAddress}/ipfs/`] : []),
          'ready'
        ], { peerId: id.peerId, addresses: id.addresses, api: daemon.apiAddress, dashboard: `http://${daemon.apiAddress}/dashboard`, repo: daemon.repo, swarm: daemon.peer.config.swarm, ...(daemon.gatewayAddress != null ? { gateway: daemon.gatewayAddress } : {}) })
      }

      // the log (stderr) says when no bootstrap peer answers, as `shoal id`, `status` and `peers` do
      const unwatch = watchBootstrap(daemon.peer.node.routing, (line) => { process.stderr.write(`shoal: ${line}\n`) })
      await new Promise<void>((resolve) => {
        let stopping = false
        const shutdown = (signal: string): void => {
          // handlers stay installed, so a second signal cannot kill a peer that is stopping;
          // the timeout below bounds how long stopping may take
          if (stopping) return
          stopping = true
          unwatch()
          if (globals.json !== true) process.stderr.write(`shoal: ${signal} received, shutting down\n`)
          const timer = setTimeout(() => {
            reportError(new Error(`shutdown took longer than ${SHUTDOWN_TIMEOUT} ms; exiting`))
            process.exit(1)
          }, SHUTDOWN_TIMEOUT)
          timer.unref()
          daemon.stop().then(() => {
            process.off('SIGINT', onInt)
            process.off('SIGTERM', onTerm)
            resolve()
          }, (err) => {
            reportError(err)
            process.exitCode = 1
            resolve()
          })
        }
        const onInt = (): void => { shutdown('SIGINT') }
        const onTerm = (): void => { shutdown('SIGTERM') }
        process.on('SIGINT', onInt)
        process.on('SIGTERM', onTerm)
        // announce readiness only once the handlers are in place: a supervisor that signals as
        // soon as it reads the ready line must find them
        void announce().catch((err) => { reportError(err) })
      })
    })
}

/**
 * Calls `say` with the peer's bootstrap problem (`none of N bootstrap peer(s) answered (...);
 * trying again in S s`) each time its text changes, so each round of the backoff is logged until
 * the wait stops growing, and once when a peer answers again. Returns what stops it.
 */
function watchBootstrap (routing: { bootstrapProblem(): string | undefined }, say: (line: string) => void): () => void {
  let last: string | undefined
  const timer = setInterval(() => {
    const bootstrap = routing.bootstrapProblem()
    if (bootstrap === last) return
    if (bootstrap != null) say(`bootstrap: ${bootstrap}`)
    else say('bootstrap: connected to a peer again')
    last = bootstrap
  }, BOOTSTRAP_LOG_INTERVAL)
  timer.unref()
  return () => { clearInterval(timer) }
}
