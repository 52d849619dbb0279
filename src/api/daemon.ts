import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import writeFileAtomic from 'write-file-atomic'
import { createPeer, initRepo, isInitialized, parseConfig, parseHostPort, repoPaths, resolveRepo, swarmConfigText } from '../peer/index.js'
import { InvalidArgumentError, ListenError } from '../errors.js'
import { createApiServer } from './server.js'
import type { Config, ShoalPeer } from '../peer/index.js'
import type { ApiServer } from './server.js'

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
}

export interface Daemon {
  peer: ShoalPeer
  repo: string
  /** Bound HOST:PORT of the control API */
  apiAddress: string
  stop(): Promise<void>
}

/**
 * Run a peer with its libp2p host and the control API. The API address and a fresh random token
 * are written into the repo (token mode 0600) for the CLI to find, and removed on stop.
 */
export async function startDaemon (init: DaemonInit = {}): Promise<Daemon> {
  const repo = resolveRepo(init.repo)
  const swarm = init.swarm != null ? await swarmConfigText(init.swarm) : undefined
  const swarmConfig = swarm != null ? parseConfig(swarm.text, swarm.source) : undefined
  if (init.init === true && !await isInitialized(repo)) {
    await initRepo(repo, swarm != null ? { configText: swarm.text } : {})
  }
  let apiHostPort: { host: string, port: number } | undefined
  if (init.api != null) {
    try {
      apiHostPort = parseHostPort(init.api, '--api')
    } catch (err: any) {
      throw new InvalidArgumentError(err.message)
    }
  }
  for (const addr of init.listen ?? []) {
    try {
      multiaddr(addr)
    } catch {
      throw new InvalidArgumentError(`invalid --listen "${addr}": expected a multiaddr such as /ip4/0.0.0.0/tcp/4001`)
    }
  }
  const peer = await createPeer({
    repo,
    online: true,
    override: (repoConfig: Config) => {
      const config = swarmConfig ?? repoConfig
      return {
        ...config,
        addresses: { ...config.addresses, listen: init.listen != null && init.listen.length > 0 ? init.listen : config.addresses.listen },
        api: { address: init.api ?? config.api.address }
      }
    }
  })
  const paths = repoPaths(repo)
  let server: ApiServer | undefined
  try {
    try {
      await peer.start()
    } catch (err: any) {
      if (err.name !== 'UnsupportedListenAddressesError') throw err
      const details = String(err.message).split('\n').map((l: string) => l.trim()).filter((l: string) => l.startsWith('/')).join('; ')
      throw new ListenError(`cannot listen on ${details}: free the port, or pass --listen with another address (port 0 picks a free one)`)
    }
    const { host, port } = apiHostPort ?? parseHostPort(peer.config.api.address, 'api.address')
    const token = randomBytes(32).toString('hex')
    server = createApiServer({ api: peer, host, port, token })
    let apiAddress: string
    try {
      apiAddress = await server.start()
    } catch (err: any) {
      if (err.code !== 'EADDRINUSE' && err.code !== 'EADDRNOTAVAIL') throw err
      throw new ListenError(`cannot serve the control API on ${host}:${port} (${err.code}): pass --api with another address (port 0 picks a free one)`)
    }
    await writeFileAtomic(paths.token, token + '\n', { mode: 0o600 })
    await writeFileAtomic(paths.api, apiAddress + '\n', { mode: 0o600 })
    let stopped = false
    const s = server
    return {
      peer,
      repo,
      apiAddress,
      stop: async () => {
        if (stopped) return
        stopped = true
        await fs.rm(paths.api, { force: true })
        await fs.rm(paths.token, { force: true })
        await s.stop()
        await peer.stop()
      }
    }
  } catch (err) {
    await server?.stop().catch(() => {})
    await peer.stop().catch(() => {})
    throw err
  }
}
