/**
 * The online half of a peer, built whole: the libp2p host, the exchange, content routing, gossip,
 * the neighbours it keeps, the store's quota, what it observes (activity, metrics) and, for a
 * daemon, the HTTP gateway. `startNode` builds and starts them in order; what has started is
 * stopped in the reverse order, by `stop()` or, when a later part fails to start, before the
 * error is thrown. Nothing in a node is missing while it runs.
 *
 * Loaded only when a peer goes online: offline commands never load libp2p.
 */
import path from 'node:path'
import { ListenError } from '../errors.js'
import { createActivity } from '../dashboard/index.js'
import { processCollector } from '../exchange/collect.js'
import { createExchange } from '../exchange/index.js'
import { createGossip, topicScoreParams, DECODE_RPC_LIMITS, MAX_INBOUND_DATA_LENGTH } from '../gossip/index.js'
import { createHost } from '../host/index.js'
import { createRouting } from '../routing/index.js'
import { provideUnprovided } from '../routing/catch-up.js'
import { AGENT_VERSION } from '../version.js'
import { parseHostPort } from './config-checks.js'
import { sources } from './holders.js'
import { Neighbours } from './neighbours.js'
import { fetchAndPin } from './online-content.js'
import { repoPaths } from './paths.js'
import { Quota } from './quota.js'
import { replicationHooks } from './replication.js'
import { readSwarmKey } from './swarm-key.js'
import type { Config } from './config.js'
import type { Identity } from './peer.js'
import type { Activity } from '../dashboard/index.js'
import type { TransferCollector } from '../exchange/collect.js'
import type { Exchange, FetchHandle, FetchOptions } from '../exchange/index.js'
import type { Gateway } from '../gateway/index.js'
import type { ShoalMetrics } from '../metrics/index.js'
import type { Gossip } from '../gossip/index.js'
import type { Host } from '../host/index.js'
import type { Names } from '../naming/index.js'
import type { Routing } from '../routing/index.js'
import type { Store } from '../store/index.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface NodeComponents {
  /** The repo directory */
  root: string
  config: Config
  identity: Identity
  /** The peer's store, open */
  store: Store
  /** Keys and names (docs/names.md): started after gossip, given to the gateway */
  names: Names
}

export interface NodeInit {
  /** Serve the HTTP gateway when the config enables it (a daemon does; peers a test runs in one process do not) */
  gateway: boolean
}

/** A fetch session for a DAG with every source the node knows */
export type SessionOptions = Omit<FetchOptions, 'providers' | 'rank'>

/** A running online peer: each part started, none missing */
export interface ShoalNode {
  readonly peerId: PeerId
  readonly host: Host
  readonly exchange: Exchange
  readonly routing: Routing
  readonly gossip: Gossip
  /** Keeps the store within `store.quota`; its room goes into presence beats */
  readonly quota: Quota
  /** Live fetch sessions and bandwidth, for the dashboard */
  readonly activity: Activity
  /** Prometheus metrics; undefined when the config sets `metrics.enabled` false */
  readonly metrics: ShoalMetrics | undefined
  /** The HTTP gateway, serving on `address`; undefined unless asked for and enabled by the config */
  readonly gateway: (Gateway & { address: string }) | undefined
  readonly log: Logger
  /** When the node started, ms since the epoch */
  readonly startedAt: number
  /**
   * Told of bulk transfers as they end (fetches and blocks served, by the exchange; publishes
   * through the API), to run a full collection after them (exchange/collect.ts)
   */
  readonly collector: TransferCollector
  /**
   * A fetch session for a DAG with every source this peer knows: connected peers (lightest loaded
   * first) and, when none has it, DHT providers
   */
  session(root: CID, options?: SessionOptions): FetchHandle
  /** Stop every part, in the reverse of the order they started */
  stop(): Promise<void>
}

/** Build and start the online half of a peer; on failure, what started is stopped again */
export async function startNode (components: NodeComponents, init: NodeInit): Promise<ShoalNode> {
  const { root, config, identity, store, names } = components
  const { peerId } = identity
  const running: Array<() => Promise<void> | void> = []
  const stopAll = async (): Promise<void> => {
    let first: unknown
    for (const stop of running.splice(0).reverse()) {
      try {
        await stop()
      } catch (err) {
        first ??= err
      }
    }
    if (first != null) throw first
  }
  try {
    const swarmKey = config.swarmKey !== '' ? await readSwarmKey(path.resolve(root, config.swarmKey)) : undefined
    const metrics = config.metrics.enabled ? (await import('../metrics/index.js')).createMetrics({ statfsLocation: root }) : undefined
    const host = await createHost({
      privateKey: identity.privateKey,
      datastorePath: repoPaths(root).datastore,
      listen: config.addresses.listen,
      announce: config.addresses.announce,
      bootstrap: config.bootstrap,
      encrypters: config.encrypters,
      limits: config.limits,
      dht: config.dht,
      nat: config.nat,
      relay: config.relay,
      mdns: config.discovery.mdns,
      swarmKey,
      gossip: {
        topics: topicScoreParams(config.swarm),
        colocationWhitelist: config.gossip.colocationWhitelist,
        maxInboundDataLength: MAX_INBOUND_DATA_LENGTH,
        decodeRpcLimits: DECODE_RPC_LIMITS
      },
      agentVersion: AGENT_VERSION,
      metrics: metrics?.libp2p
    })
    const log = host.logger.forComponent('shoal:peer')
    const quota = new Quota({ store, root, log }, { quota: config.store.quota })

    // the exchange is served before the first connection, so no peer finds this one without it
    const activity = createActivity()
    const collector = processCollector()
    const exchange = createExchange({
      host,
      blocks: store.blocks,
      observers: metrics != null ? [activity, metrics.fetches] : [activity],
      metrics: metrics?.exchange,
      collector
    }, config.exchange)
    await exchange.start()
    running.push(async () => { await exchange.stop() })
    activity.start({ bytesSent: () => exchange.stats().server.bytesSent })
    running.push(() => { activity.stop() })
    await host.start()
    running.push(async () => { await host.stop() })

    const routing = createRouting({ dht: host.services.dht, host, logger: host.logger }, {
      swarm: config.swarm,
      rendezvous: config.discovery.rendezvous,
      rendezvousIntervalMs: config.discovery.rendezvousIntervalMs,
      bootstrap: config.bootstrap
    })

    // sessions rank peers by the load gossip hears of, and gossip has replicas fetched through
    // sessions: each uses the other only once both exist
    function session (root: CID, options: SessionOptions = {}): FetchHandle {
      return exchange.fetch(root, { ...options, ...sources(root, { routing, gossip }) })
    }
    const gossip = createGossip({
      pubsub: host.services.pubsub,
      peerId,
      logger: host.logger,
      streams: host,
      addresses: () => host.getMultiaddrs().map(a => a.toString()),
      load: async () => {
        const { free, pins } = await quota.room()
        return { free, pins, uploads: exchange.stats().activeUploads, uploadSlots: config.exchange.uploadSlots }
      },
      ...replicationHooks({
        store,
        host,
        fetch: async (cid, name, maxBytes, from, whole) => fetchAndPin({ store, node: { session, routing, quota, log } }, cid, { name, maxBytes, from, ...(whole != null ? { onWhole: whole } : {}) }, 'replica')
      })
    }, {
      swarm: config.swarm,
      presenceIntervalMs: config.gossip.presenceIntervalMs,
      presenceBudget: config.gossip.presenceBudget,
      replicate: config.replicate
    })
    // peers known from earlier runs, discovered peers and members are dialled while this peer has
    // few neighbours, from the moment the host runs: the first discoveries come at once
    const neighbours = new Neighbours({ peerId, host, exchange, gossip }, {
      presenceIntervalMs: config.gossip.presenceIntervalMs,
      dialTimeoutMs: config.limits.dialTimeoutMs
    })
    neighbours.start()
    running.push(() => { neighbours.stop() })
    await routing.start()
    running.push(async () => { await routing.stop() })
    // what was pinned while no daemon ran (or whose provide failed) is provided once a DHT peer is known
    const catchUp = new AbortController()
    running.push(() => { catchUp.abort() })
    provideUnprovided({
      roots: async () => (await store.pins.list()).map(p => p.cid),
      provided: async (cid) => (await providerRecords(host.services.dht)?.getProviders(cid))?.some(p => p.equals(peerId)) ?? false,
      provide: async (cid, options) => routing.provide(cid, options),
      dhtPeers: () => host.services.dht.routingTable.size,
      log
    }, catchUp.signal).catch((err: Error) => { if (!catchUp.signal.aborted) log('providing held content failed: %s', err.message) })
    await gossip.start()
    running.push(async () => { await gossip.stop() })
    await names.start({ swarm: config.swarm, dht: host.services.dht, pubsub: host.services.pubsub, host, logger: host.logger })
    running.push(async () => { await names.stop() })

    quota.start()
    // an eviction under way finishes before the store closes
    running.push(async () => { quota.stop(); await quota.evictions() })
    if (metrics != null) {
      metrics.reportMembership(() => gossip.stats().members)
      Object.assign(metrics.sources, {
        exchangeBytesSent: () => exchange.stats().server.bytesSent,
        bitswapBytesSent: () => exchange.stats().bitswap.bytesSent,
        storeStat: async () => store.stat(),
        connectedPeers: () => host.getPeers().length
      })
    }
    let gateway: (Gateway & { address: string }) | undefined
    if (init.gateway && config.gateway.enabled) {
      gateway = await serveGateway({ store, session, logger: host.logger, metrics, names }, config)
      const g = gateway
      running.push(async () => { await g.stop() })
    }
    return {
      peerId,
      host,
      exchange,
      routing,
      gossip,
      quota,
      activity,
      metrics,
      gateway,
      log,
      startedAt: Date.now(),
      collector,
      session,
      stop: stopAll
    }
  } catch (err) {
    await stopAll().catch(() => {})
    throw err
  }
}

/**
 * The HTTP gateway over the store, with sessions that also ask the DHT when no connected peer
 * has the content; a busy port is a ListenError
 */
async function serveGateway (components: { store: Store, session: ShoalNode['session'], logger: Host['logger'], metrics: ShoalMetrics | undefined, names: Names }, config: Config): Promise<Gateway & { address: string }> {
  const { createGateway } = await import('../gateway/index.js')
  const { store } = components
  const { host, port } = parseHostPort(config.gateway.address, 'gateway.address', { loopbackOnly: false })
  const gateway = createGateway({
    blocks: {
      getBytes: async (cid, options) => store.blocks.getBytes(cid, options),
      // a range of a leaf is read from its block file without reading the rest
      readRange: async (cid, offset, length, options) => store.blocks.readRange(cid, offset, length, options)
    },
    exchange: { fetch: components.session },
    withWriteGuard: async (fn) => store.withWriteGuard(fn),
    logger: components.logger,
    observer: components.metrics?.gateway,
    names: components.names
  }, { host, port, retrievalTimeoutMs: config.gateway.retrievalTimeoutMs, maxConcurrentRequests: config.gateway.maxConcurrentRequests })
  try {
    const address = await gateway.start()
    return Object.assign(gateway, { address })
  } catch (err: any) {
    if (err.code !== 'EADDRINUSE' && err.code !== 'EADDRNOTAVAIL' && err.code !== 'EACCES' && err.code !== 'ENOTFOUND' && err.code !== 'EAI_AGAIN') throw err
    throw new ListenError(`cannot serve the gateway on ${host}:${port} (${err.code}): pass --gateway with another address (port 0 picks a free one), or --no-gateway`)
  }
}

/**
 * kad-dht's store of provider records (its own among them): a field of its implementation that its
 * interface does not name, so read with a guard; without it every pinned root counts as unprovided
 */
function providerRecords (dht: unknown): { getProviders(cid: CID): Promise<PeerId[]> } | undefined {
  const providers = (dht as { providers?: { getProviders?: unknown } }).providers
  return typeof providers?.getProviders === 'function' ? providers as { getProviders(cid: CID): Promise<PeerId[]> } : undefined
}
