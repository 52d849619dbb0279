import path from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { cat, exportCar, exportTree, importCar, importContent, list, parseContentPath } from '../content/index.js'
import { BlockNotFoundError, DaemonNotRunningError, IncompleteCarError, InvalidArgumentError, InvalidCIDError } from '../errors.js'
import { createStore } from '../store/index.js'
import { AGENT_VERSION } from '../version.js'
import { DEFAULT_PERF_BYTES, PROVIDE_TIMEOUT } from '../constants.js'
import { readSwarmKey } from './swarm-key.js'
import { holders, sources } from './holders.js'
import { Neighbours } from './neighbours.js'
import { Quota } from './quota.js'
import { readThrough } from './read-through.js'
import { replicationHooks } from './replication.js'
import { repoPaths } from './repo.js'
import type { Config } from './config.js'
import type { ReadableDag } from './read-through.js'
import type { RepoLock } from './repo.js'
import type {
  AbortOptions, CatOptions, ExportEntry, FetchOptions, GcResult, IdResult, ImportEntry, LsEntry, PeerInfo, PinInfo,
  PerfResult, PublishOptions, PublishResult, ShoalApi, StatsResult, VerifyResult, FindOptions, ProviderInfo, ProvideResult,
  StatusResult, ExportCarOptions, ImportCarOptions, ImportCarResult
} from '../api/types.js'
import type { Announcement, Gossip, Member } from '../gossip/index.js'
import type { Routing } from '../routing/index.js'
import type { PinOrigin } from '../store/index.js'
import type { Host } from '../host/index.js'
import type { Exchange, FetchResult, FetchOptions as ExchangeFetchOptions } from '../exchange/index.js'
import type { Pin, Store } from '../store/index.js'
import type { PrivateKey, PeerId, Connection, Logger } from '@libp2p/interface'
import type { FetchSession } from '../exchange/index.js'
import type { ShoalMetrics } from '../gateway/metrics.js'
import type { Activity } from '../dashboard/index.js'

export interface PeerComponents {
  root: string
  config: Config
  privateKey: PrivateKey
  lock: RepoLock
  online: boolean
}

/**
 * A shoal peer: the store, and, when online, the libp2p host. It implements `ShoalApi` in
 * process. Start order: store, then host; stop order: host, then the repo lock.
 */
export class ShoalPeer implements ShoalApi {
  readonly peerId: PeerId
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
  private readonly neighbours: Neighbours
  private started = false
  private startedAt = Date.now()

  constructor (components: PeerComponents) {
    this.components = components
    this.config = components.config
    this.peerId = peerIdFromPrivateKey(components.privateKey)
    this.store = createStore(repoPaths(components.root).store, { fsync: components.config.store.fsync })
    this.quota = new Quota({ store: this.store, root: components.root, log: () => this.log() }, { quota: this.config.store.quota })
    this.neighbours = new Neighbours({
      peerId: this.peerId,
      host: () => this.host,
      gossip: () => this.gossip,
      exchange: () => this.exchange
    }, {
      presenceIntervalMs: this.config.gossip.presenceIntervalMs,
      dialTimeoutMs: this.config.limits.dialTimeoutMs
    })
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.store.open()
    if (this.components.online) {
      // libp2p is loaded only when a peer goes online: offline commands start faster and smaller
      const { createHost } = await import('../host/index.js')
      const gossipMod = await import('../gossip/index.js')
      const swarmKey = this.config.swarmKey !== '' ? await readSwarmKey(path.resolve(this.components.root, this.config.swarmKey)) : undefined
      if (this.config.metrics.enabled) {
        const { createMetrics } = await import('../gateway/metrics.js')
        this.metrics = createMetrics({ statfsLocation: this.components.root })
      }
      const host = await createHost({
        privateKey: this.components.privateKey,
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
        this.neighbours.meet(evt.detail.id.toString(), evt.detail.multiaddrs.map(a => a.toString()))
      })
      void this.neighbours.reconnectKnown(host)
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
        peerId: this.peerId,
        logger: host.logger,
        addresses: () => host.getMultiaddrs().map(a => a.toString()),
        load: async () => this.load(),
        ...replicationHooks({
          store: this.store,
          host: () => this.requireHost('replicating'),
          gossip: () => this.gossip,
          fetch: async (cid, name) => this.fetchAs(cid, { name }, 'replica')
        }),
        meet: (peerId, addrs) => { this.neighbours.meet(peerId, addrs) }
      }, {
        swarm: this.config.swarm,
        presenceIntervalMs: this.config.gossip.presenceIntervalMs,
        replicate: this.config.replicate
      })
      await this.gossip.start()
      const gossip = this.gossip
      this.metrics?.reportMembership(() => gossip.stats().members)
      this.neighbours.start()
      this.quota.start()
      if (this.metrics != null) {
        Object.assign(this.metrics.sources, {
          exchangeBytesSent: () => exchange.stats().server.bytesSent,
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
    this.neighbours.stop()
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
      await this.components.lock.release()
    }
  }

  private requireHost (what: string): Host {
    if (this.host == null) throw new DaemonNotRunningError(this.components.root, what)
    return this.host
  }

  async id (): Promise<IdResult> {
    return {
      peerId: this.peerId.toString(),
      addresses: this.host?.getMultiaddrs().map(a => a.toString()) ?? [],
      agentVersion: AGENT_VERSION,
      online: this.host != null,
      ...(this.gatewayAddress != null ? { gateway: this.gatewayAddress } : {})
    }
  }

  async publish (entries: AsyncIterable<ImportEntry>, options: PublishOptions = {}): Promise<PublishResult> {
    const replicas = options.replicas ?? 0
    if (!Number.isSafeInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
      throw new InvalidArgumentError(`replicas must be a whole number from 0 to ${MAX_REPLICAS}`)
    }
    const tags = options.tags ?? []
    for (const t of tags) {
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(t)) throw new InvalidArgumentError(`tag "${t}" must be 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit`)
    }
    if (tags.length > 16) throw new InvalidArgumentError('at most 16 tags')
    if (replicas > 0 && (options.announce === false || this.gossip == null)) {
      throw new InvalidArgumentError('replicas are asked for by announcing: start the daemon, and do not pass --no-announce')
    }
    const result = await this.store.withWriteGuard(async (): Promise<PublishResult> => {
      const result = await importContent(entries, this.store.blocks, {
        profile: options.profile ?? this.config.publish.profile,
        signal: options.signal,
        onProgress: (e) => {
          options.onProgress?.(e.type === 'import:bytes' ? { type: 'publish:bytes', bytes: e.bytes } : { type: 'publish:done', bytes: e.bytes })
        }
      })
      if (options.pin !== false) {
        await this.store.pin(result.cid, { name: result.name, size: result.size, origin: 'publish' }, options)
      }
      return { cid: result.cid.toString(), size: result.size, name: result.name }
    })
    this.provideLater(CID.parse(result.cid))
    if (this.gossip != null && options.announce !== false) {
      const sent = await this.gossip.announce({ cid: result.cid, name: announceName(result.name, result.cid), size: result.size, tags, replicas })
      result.announced = sent.recipients
      if (sent.assigned != null) result.assigned = await sent.assigned
    }
    return result
  }

  /** Provide a root in the background; the DHT's reprovider keeps it fresh afterwards */
  private provideLater (cid: CID): void {
    const routing = this.routing
    if (routing == null) return
    const log = this.log()
    void routing.provide(cid, { signal: AbortSignal.timeout(PROVIDE_TIMEOUT) }).then(
      ({ accepted }) => { log?.('provided %s to %d peers', cid, accepted) },
      (err) => { log?.('could not provide %s: %s', cid, err.message) }
    )
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

  async fetch (cid: string, options: FetchOptions = {}): Promise<FetchResult> {
    return this.fetchAs(cid, options, 'fetch')
  }

  private async fetchAs (cid: string, options: FetchOptions, origin: PinOrigin): Promise<FetchResult> {
    this.requireExchange('fetching')
    const root = parseCid(cid)
    const result = await this.store.withWriteGuard(async () => {
      const session = this.session(root, { from: options.from, signal: options.signal, onProgress: options.onProgress })
      const result = await session.result
      const [entry] = await list(this.store.blocks, { cid: root, segments: [] }, options).catch(() => [])
      const size = entry != null && entry.kind !== 'directory' ? entry.size : await treeSize(this.get(cid, options)).catch(() => 0)
      const existing = await this.store.pins.get(root)
      await this.store.pin(root, { name: options.name ?? existing?.name ?? root.toString(), size, origin: existing?.origin ?? origin }, options)
      return result
    })
    // a peer that has fetched content serves it, so it says so
    this.provideLater(root)
    this.quota.enforceSoon()
    return result
  }

  /**
   * A fetch session for a DAG with every source this peer knows: connected peers (lightest loaded
   * first) and, when none has it, DHT providers; for readers such as the gateway
   */
  session (root: CID, options: Omit<ExchangeFetchOptions, 'providers' | 'rank'> = {}): FetchSession {
    const exchange = this.requireExchange('fetching')
    return exchange.fetch(root, { ...options, ...sources(root, { routing: this.routing, gossip: () => this.gossip }) })
  }

  async * cat (path: string, options: CatOptions = {}): AsyncGenerator<Uint8Array> {
    const p = parseContentPath(path)
    const { blocks, close } = this.readable(p.cid, options)
    try {
      yield * cat(blocks, p, options)
    } finally {
      close()
    }
  }

  async * get (path: string, options: AbortOptions = {}): AsyncGenerator<ExportEntry> {
    const p = parseContentPath(path)
    const { blocks, close } = this.readable(p.cid, options)
    try {
      yield * exportTree(blocks, p, options)
    } finally {
      close()
    }
  }

  /**
   * Blocks to read a DAG from: the store alone while offline; when online, missing blocks come
   * through a fetch session the reader waits on
   */
  private readable (root: CID, options: AbortOptions): ReadableDag {
    if (this.exchange == null) return { blocks: this.store.blocks, close: () => {} }
    return readThrough({
      store: this.store.blocks,
      session: (signal) => this.session(root, { signal }),
      onFetched: () => { this.quota.enforceSoon() }
    }, {
      // with a quota, what is read is what is used: least recently used cache goes first
      touch: this.config.store.quota > 0
    }, options)
  }

  async * exportCar (path: string, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
    const p = parseContentPath(path)
    const { blocks, close } = this.readable(p.cid, options)
    try {
      yield * exportCar({ getBytes: async (cid, o) => firstOf(blocks.get(cid, o) as AsyncIterable<Uint8Array>) }, p, options)
    } finally {
      close()
    }
  }

  async importCar (car: AsyncIterable<Uint8Array>, options: ImportCarOptions = {}): Promise<ImportCarResult> {
    return this.store.withWriteGuard(async () => {
      const stats = await importCar(car, this.store.blocks, options)
      const pinned: string[] = []
      if (options.pin !== false) {
        for (const root of stats.roots) {
          const [entry] = await list(this.store.blocks, { cid: root, segments: [] }, options).catch(() => [])
          const size = entry != null && entry.kind !== 'directory' ? entry.size : await treeSize(exportTree(this.store.blocks, { cid: root, segments: [] }, options)).catch(() => 0)
          try {
            await this.store.pin(root, { name: root.toString(), size }, options)
          } catch (err: any) {
            if (err.name !== 'BlockNotFoundError') throw err
            throw new IncompleteCarError(`the CAR does not hold the whole DAG of its root ${root}, so it cannot be pinned (${err.message.replace(/^cannot pin \S+: /, '')}); its ${stats.blocks} blocks were stored unpinned: import with --no-pin to keep them that way`)
          }
          pinned.push(root.toString())
        }
      }
      return { roots: stats.roots.map(r => r.toString()), blocks: stats.blocks, bytes: stats.bytes, pinned }
    })
  }

  private requireExchange (what: string): Exchange {
    if (this.exchange == null) throw new DaemonNotRunningError(this.components.root, what)
    return this.exchange
  }

  async ls (path: string, options: AbortOptions = {}): Promise<LsEntry[]> {
    const entries = await list(this.store.blocks, parseContentPath(path), options)
    return entries.map(e => ({ name: e.name, cid: e.cid.toString(), kind: e.kind, size: e.size }))
  }

  async pinAdd (cid: string, options: AbortOptions & { name?: string } = {}): Promise<PinInfo> {
    const parsed = parseCid(cid)
    const existing = await this.store.pins.get(parsed)
    let size = existing?.size
    if (size == null) {
      try {
        const [entry] = await list(this.store.blocks, { cid: parsed, segments: [] }, options)
        size = entry != null && entry.kind !== 'directory' ? entry.size : await treeSize(this.get(cid, options))
      } catch {
        size = 0
      }
    }
    const pin = await this.store.pin(parsed, { name: options.name ?? existing?.name ?? parsed.toString(), size }, options)
    return pinInfo(pin)
  }

  async pinRm (cid: string): Promise<void> {
    await this.store.unpin(parseCid(cid))
  }

  async pinLs (): Promise<PinInfo[]> {
    return (await this.store.pins.list()).map(pinInfo)
  }

  async gc (options: AbortOptions = {}): Promise<GcResult> {
    return this.store.gc(options)
  }

  async verify (options: AbortOptions & { drop?: boolean } = {}): Promise<VerifyResult> {
    const r = await this.store.verify(options)
    return { ...r, corrupt: r.corrupt.map(c => c.toString()) }
  }

  async peers (): Promise<PeerInfo[]> {
    const host = this.requireHost('listing peers')
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
    const host = this.requireHost('connecting to a peer')
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

  async perf (addr: string, options: AbortOptions & { bytes?: number } = {}): Promise<PerfResult> {
    const exchange = this.requireExchange('perf')
    const r = await exchange.perf(addr, options.bytes ?? DEFAULT_PERF_BYTES, options.signal)
    const peerId = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value ?? ''
    return { peerId, bytes: r.bytes, seconds: r.seconds, MBps: r.bytes / r.seconds / 1e6 }
  }

  async find (cid: string, options: FindOptions = {}): Promise<ProviderInfo[]> {
    const routing = this.requireRouting('finding providers')
    const root = parseCid(cid)
    const found: ProviderInfo[] = []
    for await (const p of routing.findProviders(root, options)) {
      found.push({ peerId: p.id.toString(), addresses: p.multiaddrs.map(a => a.toString()) })
    }
    return found
  }

  async provide (cid: string, options: AbortOptions = {}): Promise<ProvideResult> {
    const routing = this.requireRouting('providing')
    const root = parseCid(cid)
    const missing = await this.store.missing(root, options)
    if (missing.length > 0) {
      throw new BlockNotFoundError(`cannot provide ${root}: ${missing.length} block(s) of it are not stored here; fetch it first`)
    }
    const { accepted } = await routing.provide(root, { signal: options.signal ?? AbortSignal.timeout(PROVIDE_TIMEOUT) })
    return { cid: root.toString(), accepted }
  }

  async members (): Promise<Member[]> {
    const gossip = this.requireGossip('listing members')
    return gossip.members()
  }

  async * watch (options: AbortOptions = {}): AsyncGenerator<Announcement> {
    const gossip = this.requireGossip('watching announcements')
    yield * gossip.watch(options.signal)
  }

  async status (cid: string, options: AbortOptions & { timeoutMs?: number } = {}): Promise<StatusResult> {
    const routing = this.requireRouting('looking up holders')
    const gossip = this.requireGossip('looking up holders')
    const root = parseCid(cid)
    const local = (await this.store.missing(root, options)).length === 0
    const found = await holders(root, { self: this.peerId.toString(), routing, gossip }, options)
    return { cid: root.toString(), local, pinned: await this.store.pins.has(root), holders: found }
  }

  private requireRouting (what: string): Routing {
    if (this.routing == null) throw new DaemonNotRunningError(this.components.root, what)
    return this.routing
  }

  private requireGossip (what: string): Gossip {
    if (this.gossip == null) throw new DaemonNotRunningError(this.components.root, what)
    return this.gossip
  }

  async stats (options: AbortOptions = {}): Promise<StatsResult> {
    const store = await this.store.stat(options)
    const result: StatsResult = {
      peerId: this.peerId.toString(),
      online: this.host != null,
      store,
      uptime: Math.round((Date.now() - this.startedAt) / 1000)
    }
    if (this.host != null) {
      result.network = {
        connections: this.host.getConnections().length,
        peers: this.host.getPeers().length,
        knownPeers: (await this.host.peerStore.all()).length,
        gossipTopics: this.host.services.pubsub.getTopics().length
      }
      result.exchange = this.exchange?.stats()
      result.gossip = this.gossip?.stats()
    }
    return result
  }
}

const MAX_REPLICAS = 64

/** Announced names are single path segments */
function announceName (name: string, cid: string): string {
  const base = name.split('/').filter(Boolean).pop() ?? ''
  return base === '' ? cid : base.slice(0, 255)
}

function parseCid (s: string): CID {
  try {
    return CID.parse(s.trim())
  } catch {
    throw new InvalidCIDError(s)
  }
}

function pinInfo (pin: Pin): PinInfo {
  return { cid: pin.cid.toString(), name: pin.name, size: pin.size, pinnedAt: pin.pinnedAt }
}

async function treeSize (entries: AsyncIterable<ExportEntry>): Promise<number> {
  let size = 0
  for await (const e of entries) {
    if (e.kind === 'file') size += e.size
  }
  return size
}

async function firstOf (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  for await (const bytes of source) return bytes
  throw new Error('the block source yielded nothing')
}
