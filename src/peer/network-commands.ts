/**
 * The network commands of `ShoalApi`: the peer itself (id, stats), its connections (peers,
 * connect, perf), content routing (find, provide), the swarm (members, watch) and who holds
 * content (status). All but id and stats exist only on an online peer (the table of calls refuses
 * them offline); offline, id and stats are `offlineSelf`'s (self-commands.ts).
 */
import { BlockNotFoundError, InvalidArgumentError } from '../errors.js'
import { AGENT_VERSION } from '../version.js'
import { DEFAULT_PERF_BYTES, PROVIDE_TIMEOUT } from '../constants.js'
import { parseCid } from './content-commands.js'
import { holders } from './holders.js'
import type { ShoalNode } from './node.js'
import type {
  AbortOptions, IdResult, PeerInfo, PerfOptions, PerfResult, StatsResult, FindOptions, ProviderInfo, ProvideResult, StatusResult
} from '../interface/types.js'
import type { Announcement, Member } from '../gossip/index.js'
import type { Store } from '../store/index.js'
import type { KBuckets } from '../host/dht-servers.js'
import type { Connection } from '@libp2p/interface'

export interface NetworkComponents {
  store: Pick<Store, 'missing' | 'pins' | 'stat'>
  node: Pick<ShoalNode, 'peerId' | 'host' | 'exchange' | 'routing' | 'gossip' | 'gateway' | 'startedAt'>
}

export class NetworkCommands {
  private readonly components: NetworkComponents

  constructor (components: NetworkComponents) {
    this.components = components
  }

  async id (): Promise<IdResult> {
    const { peerId, host, gateway } = this.components.node
    return {
      peerId: peerId.toString(),
      addresses: host.getMultiaddrs().map(a => a.toString()),
      agentVersion: AGENT_VERSION,
      online: true,
      reachability: host.services.nat.reachability,
      relays: host.services.nat.status().relays,
      dht: host.services.dht.getMode(),
      swarm: this.swarmView(),
      ...this.bootstrapProblem(),
      ...(gateway != null ? { gateway: gateway.address } : {})
    }
  }

  async peers (): Promise<PeerInfo[]> {
    const host = this.components.node.host
    const byPeer = new Map<string, PeerInfo>()
    for (const conn of host.getConnections()) {
      const id = conn.remotePeer.toString()
      const info = byPeer.get(id) ?? { peerId: id, addresses: [], direction: conn.direction }
      info.addresses.push(conn.remoteAddr.toString())
      byPeer.set(id, info)
    }
    const table = host.services.dht.routingTable as KBuckets
    if (typeof table.find === 'function') {
      for (const conn of host.getConnections()) {
        const info = byPeer.get(conn.remotePeer.toString()) as PeerInfo
        info.dhtServer ??= await table.find(conn.remotePeer) != null
      }
    }
    return [...byPeer.values()]
  }

  async connect (addr: string, options: AbortOptions = {}): Promise<PeerInfo> {
    const host = this.components.node.host
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
    const exchange = this.components.node.exchange
    const r = await exchange.perf(addr, options.bytes ?? DEFAULT_PERF_BYTES, { signal: options.signal, hash: options.hash })
    const { multiaddr } = await import('@multiformats/multiaddr')
    const peerId = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value ?? ''
    return { peerId, bytes: r.bytes, seconds: r.seconds, MBps: r.bytes / r.seconds / 1e6, ...(r.hashed != null ? { hashed: r.hashed } : {}) }
  }

  async find (cid: string, options: FindOptions = {}): Promise<ProviderInfo[]> {
    const routing = this.components.node.routing
    const root = parseCid(cid)
    const found: ProviderInfo[] = []
    for await (const p of routing.findProviders(root, options)) {
      found.push({ peerId: p.id.toString(), addresses: p.multiaddrs.map(a => a.toString()) })
    }
    return found
  }

  async provide (cid: string, options: AbortOptions = {}): Promise<ProvideResult> {
    const routing = this.components.node.routing
    const root = parseCid(cid)
    const missing = await this.components.store.missing(root, options)
    if (missing.length > 0) {
      throw new BlockNotFoundError(`cannot provide ${root}: ${missing.length} block(s) of it are not stored here; fetch it first`)
    }
    const { accepted } = await routing.provide(root, { signal: options.signal ?? AbortSignal.timeout(PROVIDE_TIMEOUT) })
    return { cid: root.toString(), accepted }
  }

  async members (): Promise<Member[]> {
    return this.components.node.gossip.members()
  }

  async * watch (options: AbortOptions = {}): AsyncGenerator<Announcement> {
    yield * this.components.node.gossip.watch(options.signal)
  }

  async status (cid: string, options: AbortOptions & { timeoutMs?: number } = {}): Promise<StatusResult> {
    const { store, node } = this.components
    const { peerId, routing, gossip } = node
    const root = parseCid(cid)
    const local = (await store.missing(root, options)).length === 0
    const found = await holders(root, { self: peerId.toString(), routing, gossip }, options)
    return { cid: root.toString(), local, pinned: await store.pins.has(root), holders: found, reachability: node.host.services.nat.reachability, ...this.bootstrapProblem() }
  }

  private swarmView (): { estimate: number, partial: boolean } {
    const { estimate, partial } = this.components.node.gossip.stats()
    return { estimate, partial }
  }

  private bootstrapProblem (): { bootstrap?: string } {
    const problem = this.components.node.routing.bootstrapProblem()
    return problem != null ? { bootstrap: problem } : {}
  }

  async stats (options: AbortOptions = {}): Promise<StatsResult> {
    const { store, node } = this.components
    const { host } = node
    return {
      peerId: node.peerId.toString(),
      online: true,
      reachability: host.services.nat.reachability,
      relays: host.services.nat.status().relays,
      store: await store.stat(options),
      uptime: Math.round((Date.now() - node.startedAt) / 1000),
      network: {
        connections: host.getConnections().length,
        peers: host.getPeers().length,
        knownPeers: (await host.peerStore.all()).length,
        gossipTopics: host.services.pubsub.getTopics().length,
        dht: { mode: host.services.dht.getMode(), routingTable: host.services.dht.routingTable.size },
        confirmed: host.services.nat.status().confirmed,
        ...(host.services.portMapping != null ? { portMapping: host.services.portMapping.status() } : {})
      },
      exchange: node.exchange.stats(),
      gossip: node.gossip.stats()
    }
  }
}
