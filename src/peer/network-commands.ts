/**
 * The network commands of `ShoalApi`: the peer itself (id, stats), its connections (peers,
 * connect, perf), content routing (find, provide), the swarm (members, watch) and who holds
 * content (status); all but id and stats need the peer online
 */
import { BlockNotFoundError, InvalidArgumentError } from '../errors.js'
import { AGENT_VERSION } from '../version.js'
import { DEFAULT_PERF_BYTES, PROVIDE_TIMEOUT } from '../constants.js'
import { parseCid } from './content-commands.js'
import { holders } from './holders.js'
import { online } from './online.js'
import type {
  AbortOptions, IdResult, PeerInfo, PerfOptions, PerfResult, StatsResult, FindOptions, ProviderInfo, ProvideResult, StatusResult
} from '../api/types.js'
import type { Exchange } from '../exchange/index.js'
import type { Announcement, Gossip, Member } from '../gossip/index.js'
import type { Host } from '../host/index.js'
import type { Routing } from '../routing/index.js'
import type { Store } from '../store/index.js'
import type { Connection, PeerId } from '@libp2p/interface'

export interface NetworkComponents {
  /** The repo directory, named when a command needs a running peer */
  root: string
  /** The peer's key and id, read from the repo once when first asked for */
  identity(): Promise<{ peerId: PeerId }>
  store: Pick<Store, 'missing' | 'pins' | 'stat'>
  /** The peer's host, exchange, routing and gossip, while it is online */
  host(): Host | undefined
  exchange(): Pick<Exchange, 'perf' | 'stats'> | undefined
  routing(): Pick<Routing, 'findProviders' | 'provide'> | undefined
  gossip(): Pick<Gossip, 'members' | 'watch' | 'holders' | 'member' | 'stats'> | undefined
  /** HOST:PORT of the HTTP gateway, when a daemon serves it */
  gatewayAddress(): string | undefined
  /** When the peer last started (ms since the epoch), for its uptime */
  startedAt(): number
}

export class NetworkCommands {
  private readonly components: NetworkComponents

  constructor (components: NetworkComponents) {
    this.components = components
  }

  async id (): Promise<IdResult> {
    const host = this.components.host()
    const gatewayAddress = this.components.gatewayAddress()
    return {
      peerId: (await this.components.identity()).peerId.toString(),
      addresses: host?.getMultiaddrs().map(a => a.toString()) ?? [],
      agentVersion: AGENT_VERSION,
      online: host != null,
      ...(gatewayAddress != null ? { gateway: gatewayAddress } : {})
    }
  }

  async peers (): Promise<PeerInfo[]> {
    const host = online(this.components.host(), this.components.root, 'listing peers')
    const byPeer = new Map<string, PeerInfo>()
    for (const conn of host.getConnections()) {
      const id = conn.remotePeer.toString()
      const info = byPeer.get(id) ?? { peerId: id, addresses: [], direction: conn.direction }
      info.addresses.push(conn.remoteAddr.toString())
      byPeer.set(id, info)
    }
    return [...byPeer.values()]
  }

  async connect (addr: string, options: AbortOptions = {}): Promise<PeerInfo> {
    const host = online(this.components.host(), this.components.root, 'connecting to a peer')
    const { multiaddr } = await import('@multiformats/multiaddr')
    let ma
    try {
      ma = multiaddr(addr)
    } catch {
      throw new InvalidArgumentError(`invalid multiaddr "${addr}": expected something like /ip4/1.2.3.4/tcp/4001/p2p/12D3Koo...`)
    }
    if (ma.getComponents().find(c => c.name === 'p2p') == null) {
      throw new InvalidArgumentError(`multiaddr "${addr}" has no /p2p/<peer id>: add the peer id of the peer to connect to`)
    }
    const conn: Connection = await host.dial(ma, { signal: options.signal })
    return { peerId: conn.remotePeer.toString(), addresses: [conn.remoteAddr.toString()], direction: conn.direction }
  }

  async perf (addr: string, options: PerfOptions = {}): Promise<PerfResult> {
    const exchange = online(this.components.exchange(), this.components.root, 'perf')
    const r = await exchange.perf(addr, options.bytes ?? DEFAULT_PERF_BYTES, { signal: options.signal, hash: options.hash })
    const { multiaddr } = await import('@multiformats/multiaddr')
    const peerId = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value ?? ''
    return { peerId, bytes: r.bytes, seconds: r.seconds, MBps: r.bytes / r.seconds / 1e6, ...(r.hashed != null ? { hashed: r.hashed } : {}) }
  }

  async find (cid: string, options: FindOptions = {}): Promise<ProviderInfo[]> {
    const routing = online(this.components.routing(), this.components.root, 'finding providers')
    const root = parseCid(cid)
    const found: ProviderInfo[] = []
    for await (const p of routing.findProviders(root, options)) {
      found.push({ peerId: p.id.toString(), addresses: p.multiaddrs.map(a => a.toString()) })
    }
    return found
  }

  async provide (cid: string, options: AbortOptions = {}): Promise<ProvideResult> {
    const routing = online(this.components.routing(), this.components.root, 'providing')
    const root = parseCid(cid)
    const missing = await this.components.store.missing(root, options)
    if (missing.length > 0) {
      throw new BlockNotFoundError(`cannot provide ${root}: ${missing.length} block(s) of it are not stored here; fetch it first`)
    }
    const { accepted } = await routing.provide(root, { signal: options.signal ?? AbortSignal.timeout(PROVIDE_TIMEOUT) })
    return { cid: root.toString(), accepted }
  }

  async members (): Promise<Member[]> {
    const gossip = online(this.components.gossip(), this.components.root, 'listing members')
    return gossip.members()
  }

  async * watch (options: AbortOptions = {}): AsyncGenerator<Announcement> {
    const gossip = online(this.components.gossip(), this.components.root, 'watching announcements')
    yield * gossip.watch(options.signal)
  }

  async status (cid: string, options: AbortOptions & { timeoutMs?: number } = {}): Promise<StatusResult> {
    const { root: repo, store } = this.components
    const { peerId } = await this.components.identity()
    const routing = online(this.components.routing(), repo, 'looking up holders')
    const gossip = online(this.components.gossip(), repo, 'looking up holders')
    const root = parseCid(cid)
    const local = (await store.missing(root, options)).length === 0
    const found = await holders(root, { self: peerId.toString(), routing, gossip }, options)
    return { cid: root.toString(), local, pinned: await store.pins.has(root), holders: found }
  }

  async stats (options: AbortOptions = {}): Promise<StatsResult> {
    const store = await this.components.store.stat(options)
    const host = this.components.host()
    const result: StatsResult = {
      peerId: (await this.components.identity()).peerId.toString(),
      online: host != null,
      store,
      uptime: Math.round((Date.now() - this.components.startedAt()) / 1000)
    }
    if (host != null) {
      result.network = {
        connections: host.getConnections().length,
        peers: host.getPeers().length,
        knownPeers: (await host.peerStore.all()).length,
        gossipTopics: host.services.pubsub.getTopics().length
      }
      result.exchange = this.components.exchange()?.stats()
      result.gossip = this.components.gossip()?.stats()
    }
    return result
  }
}
