import path from 'node:path'
import { createStore } from '../store/index.js'
import { AGENT_VERSION } from '../version.js'
import { localApi } from '../api/local.js'
import { readSwarmKey } from './swarm-key.js'
import { ContentCommands } from './content-commands.js'
import { sources } from './holders.js'
import { NetworkCommands } from './network-commands.js'
import { online } from './online.js'
import { Quota } from './quota.js'
import { repoPaths } from './repo.js'
import type { Config } from './config.js'
import type { Neighbours } from './neighbours.js'
import type { RepoLock } from './repo.js'
import type { ShoalApi } from '../api/types.js'
import type { Gossip } from '../gossip/index.js'
import type { Routing } from '../routing/index.js'
import type { Host } from '../host/index.js'
import type { Exchange, FetchResult, FetchHandle, FetchOptions as ExchangeFetchOptions } from '../exchange/index.js'
import type { Store } from '../store/index.js'
import type { PrivateKey, PeerId, Logger } from '@libp2p/interface'
import type { ShoalMetrics } from '../gateway/metrics.js'
import type { Activity } from '../dashboard/index.js'
import type { CID } from 'multiformats/cid'

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
}

export interface PeerComponents {
  root: string
  config: Config
  /**
   * The peer's key and id from the repo, read once when first needed: a peer going online needs
   * them at once, an offline one only to say who it is
   */
  identity(): Promise<Identity>
  lock: RepoLock
  online: boolean
  /** Opened for reading only, without the lock: the store is opened as it is */
  readOnly?: boolean
}

// the peer is its own `ShoalApi`: the methods are made in the constructor from the table of calls
export interface ShoalPeer extends ShoalApi {}

/**
 * A shoal peer: the store, and, when online, the libp2p host. It is `ShoalApi` in process: each
 * call is checked as the table of calls (api/calls.ts) says and made by its content commands
 * (content-commands.ts) or network commands (network-commands.ts). Start order: store, then host;
 * stop order: host, then the repo lock.
 */
export class ShoalPeer {
  readonly store: Store
  readonly config: Config
  host?: Host
  exchange?: Exchange
  routing?: Routing
  gossip?: Gossip
  /** Prometheus metrics, when online and `metrics.enabled` */
  metrics?: ShoalMetrics
  /** Live fetch sessions and bandwidth, for the dashboard; when online */
  activity?: Activity
  /** HOST:PORT of the HTTP gateway, set by the daemon that serves it */
  gatewayAddress?: string
  private readonly components: PeerComponents
  private readonly quota: Quota
  /** Dials members and known peers while this peer has few; online only */
  private neighbours?: Neighbours
  private readonly content: ContentCommands
  private readonly network: NetworkCommands
  private started = false
  private onlineId?: PeerId
  private startedAt = Date.now()

  constructor (components: PeerComponents) {
    this.components = components
    this.config = components.config
    this.store = createStore(repoPaths(components.root).store, { fsync: components.config.store.fsync })
    this.quota = new Quota({ store: this.store, root: components.root, log: () => this.log() }, { quota: this.config.store.quota })
    // the parts that exist while the peer is online, read when used, so the modules see them as
    // the fields are through start and stop
    const parts = {
      host: () => this.host,
      exchange: () => this.exchange,
      routing: () => this.routing,
      gossip: () => this.gossip
    }
    this.content = new ContentCommands({
      ...parts,
      root: components.root,
      store: this.store,
      config: this.config,
      quota: this.quota,
      session: (root, options) => this.session(root, options),
      log: () => this.log()
    })
    this.network = new NetworkCommands({
      ...parts,
      root: components.root,
      identity: components.identity,
      store: this.store,
      gatewayAddress: () => this.gatewayAddress,
      startedAt: () => this.startedAt
    })
    Object.assign(this, localApi([this.content, this.network], { repo: components.root, readOnly: components.readOnly, offline: !components.online }))
  }

  /** This peer's id, once it is online (an offline peer reads it for `id()` alone) */
  get peerId (): PeerId {
    if (this.onlineId == null) throw new Error('the peer id is known once the peer is online')
    return this.onlineId
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.store.open({ readOnly: this.components.readOnly === true })
    if (this.components.online) {
      // libp2p is loaded only when a peer goes online: offline commands start faster and smaller
      const { privateKey, peerId } = await this.components.identity()
      const { createHost } = await import('../host/index.js')
      const gossipMod = await import('../gossip/index.js')
      const { Neighbours } = await import('./neighbours.js')
      const { replicationHooks } = await import('./replication.js')
      const neighbours = new Neighbours({
        peerId,
        host: () => this.host,
        exchange: () => this.exchange,
        gossip: () => this.gossip
      }, {
        presenceIntervalMs: this.config.gossip.presenceIntervalMs,
        dialTimeoutMs: this.config.limits.dialTimeoutMs
      })
      this.neighbours = neighbours
      this.onlineId = peerId
      const swarmKey = this.config.swarmKey !== '' ? await readSwarmKey(path.resolve(this.components.root, this.config.swarmKey)) : undefined
      if (this.config.metrics.enabled) {
        const { createMetrics } = await import('../gateway/metrics.js')
        this.metrics = createMetrics({ statfsLocation: this.components.root })
      }
      const host = await createHost({
        privateKey,
        datastorePath: repoPaths(this.components.root).datastore,
        listen: this.config.addresses.listen,
        announce: this.config.addresses.announce,
        bootstrap: this.config.bootstrap,
        limits: this.config.limits,
        dht: this.config.dht,
        mdns: this.config.discovery.mdns,
        swarmKey,
        gossip: {
          topics: gossipMod.topicScoreParams(this.config.swarm),
          colocationWhitelist: this.config.gossip.colocationWhitelist,
          maxInboundDataLength: gossipMod.MAX_INBOUND_DATA_LENGTH,
          decodeRpcLimits: gossipMod.DECODE_RPC_LIMITS
        },
        agentVersion: AGENT_VERSION,
        metrics: this.metrics?.libp2p
      })
      // the exchange is served before the first connection, so no peer finds this one without it
      const { createExchange } = await import('../exchange/index.js')
      const exchange = createExchange({ host, blocks: this.metrics?.countFetched(this.store.blocks) ?? this.store.blocks }, this.config.exchange)
      const { createActivity } = await import('../dashboard/index.js')
      this.activity = createActivity()
      this.exchange = this.activity.track(this.metrics?.timeFetches(exchange) ?? exchange)
      this.activity.start({ bytesSent: () => exchange.stats().server.bytesSent })
      await this.exchange.start()
      try {
        await host.start()
      } catch (err) {
        this.activity.stop()
        await this.exchange.stop().catch(() => {})
        this.exchange = undefined
        throw err
      }
      this.host = host
      // discovered peers (mDNS on a LAN, the DHT) are dialled while this peer has few neighbours;
      // the peer store only reports peers new to it, so those known from earlier runs are dialled
      // once at start
      host.addEventListener('peer:discovery', (evt) => {
        neighbours.meet(evt.detail.id.toString(), evt.detail.multiaddrs.map(a => a.toString()))
      })
      void neighbours.reconnectKnown(host)
      const { createRouting } = await import('../routing/index.js')
      this.routing = createRouting({ dht: host.services.dht, host, logger: host.logger }, {
        swarm: this.config.swarm,
        rendezvous: this.config.discovery.rendezvous,
        rendezvousIntervalMs: this.config.discovery.rendezvousIntervalMs,
        bootstrap: this.config.bootstrap
      })
      await this.routing.start()
      this.gossip = gossipMod.createGossip({
        pubsub: host.services.pubsub,
        peerId,
        logger: host.logger,
        addresses: () => host.getMultiaddrs().map(a => a.toString()),
        load: async () => this.load(),
        ...replicationHooks({
          store: this.store,
          host: () => online(this.host, this.components.root, 'replicating'),
          gossip: () => this.gossip,
          fetch: async (cid, name, maxBytes) => this.content.fetch(cid, { name, maxBytes }, 'replica')
        }),
        meet: (member, addrs) => { neighbours.meet(member, addrs) }
      }, {
        swarm: this.config.swarm,
        presenceIntervalMs: this.config.gossip.presenceIntervalMs,
        replicate: this.config.replicate
      })
      await this.gossip.start()
      const gossip = this.gossip
      this.metrics?.reportMembership(() => gossip.stats().members)
      neighbours.start()
      this.quota.start()
      if (this.metrics != null) {
        Object.assign(this.metrics.sources, {
          exchangeBytesSent: () => exchange.stats().server.bytesSent,
          bitswapBytesSent: () => exchange.stats().bitswap.bytesSent,
          storeStat: async () => this.store.stat(),
          connectedPeers: () => host.getPeers().length
        })
      }
    }
    this.startedAt = Date.now()
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) {
      await this.components.lock.release()
      return
    }
    this.started = false
    this.quota.stop()
    this.activity?.stop()
    this.neighbours?.stop()
    try {
      await this.evictions()
      await this.gossip?.stop()
      await this.routing?.stop()
      await this.exchange?.stop()
      await this.host?.stop()
    } finally {
      this.gossip = undefined
      this.routing = undefined
      this.exchange = undefined
      this.host = undefined
      await this.store.close()
      await this.components.lock.release()
    }
  }

  /** The peer's log, while it is online */
  private log (): Logger | undefined {
    return this.host?.logger.forComponent('shoal:peer')
  }

  /** This peer's room and load, for its presence beat; store figures are cached for a while */
  private async load (): Promise<{ free: number, uploads: number, uploadSlots: number, pins: number }> {
    const { free, pins } = await this.quota.room()
    const ex = this.exchange?.stats()
    return { free, pins, uploads: ex?.activeUploads ?? 0, uploadSlots: this.config.exchange.uploadSlots }
  }

  /** Resolves when no eviction is running (tests, shutdown) */
  async evictions (): Promise<void> {
    await this.quota.evictions()
  }

  /**
   * A fetch session for a DAG with every source this peer knows: connected peers (lightest loaded
   * first) and, when none has it, DHT providers; for readers such as the gateway
   */
  session (root: CID, options: Omit<ExchangeFetchOptions, 'providers' | 'rank'> = {}): FetchHandle {
    const exchange = online(this.exchange, this.components.root, 'fetching')
    return exchange.fetch(root, { ...options, ...sources(root, { routing: this.routing, gossip: () => this.gossip }) })
  }
}
