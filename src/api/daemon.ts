import { randomBytes } from 'node:crypto'
import dns from 'node:dns/promises'
import fs from 'node:fs/promises'
import net from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import writeFileAtomic from 'write-file-atomic'
import { createPeer, initRepo, isInitialized, parseConfig, parseHostPort, repoPaths, resolveRepo, swarmConfigText } from '../peer/index.js'
import { InvalidArgumentError, ListenError } from '../errors.js'
import { createApiServer } from './server.js'
import type { Config, OnlinePeer } from '../peer/index.js'
import type { ApiServer } from './server.js'
import type { Dashboard } from '../dashboard/index.js'

/** `--gateway HOST:PORT`: HOST must be an IP address or a name that resolves */
async function checkGatewayAddress (value: string): Promise<void> {
  const { host } = parseHostPort(value, '--gateway', { loopbackOnly: false })
  if (net.isIP(host) !== 0) return
  const fix = 'give an IP address (0.0.0.0 for every interface, 127.0.0.1 for this machine only) or a host name that resolves'
  if (/^[\d.]+$/.test(host)) throw new InvalidArgumentError(`invalid --gateway host "${host}": not an IP address; ${fix}`)
  try {
    await dns.lookup(host)
  } catch (err: any) {
    throw new InvalidArgumentError(`invalid --gateway host "${host}": it does not resolve (${err.code ?? err.message}); ${fix}`)
  }
}

export interface DaemonInit {
  repo?: string
  /** Create the repo first when there is none */
  init?: boolean
  /** Listen multiaddrs, replacing the config's */
  listen?: string[]
  /** HOST:PORT of the API, replacing the config's */
  api?: string
  /** Run with this swarm's config (a name from configs/ or a file) instead of the repo's */
  swarm?: string
  /** HOST:PORT of the HTTP gateway, replacing the config's; false turns it off */
  gateway?: string | false
}

export interface Daemon {
  peer: OnlinePeer
  repo: string
  /** Bound HOST:PORT of the control API */
  apiAddress: string
  /** Bound HOST:PORT of the HTTP gateway, when it runs */
  gatewayAddress?: string
  stop(): Promise<void>
}

/**
 * Run a peer with its libp2p host and the control API. The API address and a fresh random token
 * are written into the repo (token mode 0600) for the CLI to find, and removed on stop.
 */
export async function startDaemon (init: DaemonInit = {}): Promise<Daemon> {
  const repo = resolveRepo(init.repo)
  // every option is checked before anything is created or started
  let swarm: Awaited<ReturnType<typeof swarmConfigText>> | undefined
  try {
    swarm = init.swarm != null ? await swarmConfigText(init.swarm) : undefined
  } catch (err: any) {
    throw err.name === 'InvalidConfigError' ? new InvalidArgumentError(err.message) : err
  }
  const swarmConfig = swarm != null ? parseConfig(swarm.text, swarm.source) : undefined
  const apiHostPort = init.api != null ? parseHostPort(init.api, '--api') : undefined
  if (typeof init.gateway === 'string') await checkGatewayAddress(init.gateway)
  for (const addr of init.listen ?? []) {
    try {
      multiaddr(addr)
    } catch {
      throw new InvalidArgumentError(`invalid --listen "${addr}": expected a multiaddr such as /ip4/0.0.0.0/tcp/4001`)
    }
  }
  if (init.init === true && !await isInitialized(repo)) {
    await initRepo(repo, swarm != null ? { configText: swarm.text } : {})
  }
  const paths = repoPaths(repo)
  let peer: OnlinePeer
  try {
    peer = await createPeer({
      repo,
      online: true,
      gateway: true,
      override: (repoConfig: Config) => {
        const config = swarmConfig ?? repoConfig
        return {
          ...config,
          addresses: { ...config.addresses, listen: init.listen != null && init.listen.length > 0 ? init.listen : config.addresses.listen },
          api: { address: init.api ?? config.api.address },
          gateway: {
            ...config.gateway,
            enabled: init.gateway === false ? false : config.gateway.enabled || typeof init.gateway === 'string',
            address: typeof init.gateway === 'string' ? init.gateway : config.gateway.address
          }
        }
      }
    })
  } catch (err: any) {
    if (err.name !== 'UnsupportedListenAddressesError') throw err
    const details = String(err.message).split('\n').map((l: string) => l.trim()).filter((l: string) => l.startsWith('/')).join('; ')
    throw new ListenError(`cannot listen on ${details}: free the port, or pass --listen with another address (port 0 picks a free one)`)
  }
  const node = peer.node
  let server: ApiServer | undefined
  let dashboard: Dashboard | undefined
  try {
    const { host, port } = apiHostPort ?? parseHostPort(peer.config.api.address, 'api.address')
    const token = randomBytes(32).toString('hex')
    const metrics = node.metrics
    const { createDashboard } = await import('../dashboard/index.js')
    dashboard = createDashboard({ api: peer, activity: node.activity, logger: node.host.logger })
    server = createApiServer({ api: peer, host, port, token, metrics: metrics != null ? async () => metrics.scrape() : undefined, dashboard })
    let apiAddress: string
    try {
      apiAddress = await server.start()
    } catch (err: any) {
      if (err.code !== 'EADDRINUSE' && err.code !== 'EADDRNOTAVAIL') throw err
      throw new ListenError(`cannot serve the control API on ${host}:${port} (${err.code}): pass --api with another address (port 0 picks a free one)`)
    }
    await writeFileAtomic(paths.token, token + '\n', { mode: 0o600 })
    await writeFileAtomic(paths.api, apiAddress + '\n', { mode: 0o600 })
    const g = node.gateway
    if (g != null) await writeFileAtomic(paths.gateway, g.address + '\n', { mode: 0o600 })
    const d = dashboard
    let stopped = false
    const s = server
    return {
      peer,
      repo,
      apiAddress,
      gatewayAddress: g?.address,
      stop: async () => {
        if (stopped) return
        stopped = true
        await fs.rm(paths.api, { force: true })
        await fs.rm(paths.token, { force: true })
        await fs.rm(paths.gateway, { force: true })
        d.stop()
        await s.stop()
        await peer.stop()
      }
    }
  } catch (err) {
    // the lock is ours here: the address files written so far name nothing that runs
    for (const file of [paths.gateway, paths.api, paths.token]) await fs.rm(file, { force: true })
    dashboard?.stop()
    await server?.stop().catch(() => {})
    await peer.stop().catch(() => {})
    throw err
  }
}
