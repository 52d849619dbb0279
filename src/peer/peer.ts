import fs from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { cat, exportCar, exportTree, importCar, importContent, list, parseContentPath } from '../content/index.js'
import { BlockNotFoundError, DaemonNotRunningError, IncompleteCarError, InvalidArgumentError, InvalidCIDError } from '../errors.js'
import { createStore } from '../store/index.js'
import { AGENT_VERSION } from '../version.js'
import { DEFAULT_PERF_BYTES, GONE_AFTER_BEATS, PROVIDE_TIMEOUT, QUOTA_CHECK_INTERVAL, STATUS_FIND_TIMEOUT, second } from '../constants.js'
import { readSwarmKey } from './swarm-key.js'
import { repoPaths } from './repo.js'
import type { Config } from './config.js'
import type { RepoLock } from './repo.js'
import type {
  AbortOptions, CatOptions, ExportEntry, FetchOptions, GcResult, IdResult, ImportEntry, LsEntry, PeerInfo, PinInfo,
  PerfResult, PublishOptions, PublishResult, ShoalApi, StatsResult, VerifyResult, FindOptions, ProviderInfo, ProvideResult,
  StatusResult, HolderInfo, ExportCarOptions, ImportCarOptions, ImportCarResult
} from '../api/types.js'
import { loadRank } from '../gossip/membership.js'
import type { Announcement, Gossip, Member } from '../gossip/index.js'
import type { Routing } from '../routing/index.js'
import type { PinOrigin } from '../store/index.js'
import type { Host } from '../host/index.js'
import type { Exchange, FetchResult, FetchOptions as ExchangeFetchOptions } from '../exchange/index.js'
import type { Pin, Store } from '../store/index.js'
import type { PrivateKey, PeerId, Connection } from '@libp2p/interface'
import type { FetchSession } from '../exchange/index.js'
import type { Blockstore } from 'interface-blockstore'
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
  private started = false
  private startedAt = Date.now()
  private loadCache?: { at: number, free: number, pins: number }
  private evicting?: Promise<void>
  private evictAgain = false
  private quotaTimer?: ReturnType<typeof setInterval>
  private readonly meeting = new Set<string>()
  private rejoinTimer?: ReturnType<typeof setInterval>
  private readonly rejoining = new Set<string>()

  constructor (components: PeerComponents) {
    this.components = components
    this.config = components.config
    this.peerId = peerIdFromPrivateKey(components.privateKey)
    this.store = createStore(repoPaths(components.root).store, { fsync: components.config.store.fsync })
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
        this.meet(evt.detail.id.toString(), evt.detail.multiaddrs.map(a => a.toString()))
      })
      void this.reconnectKnown(host)
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
        replicated: async () => (await this.store.pins.list()).filter(p => p.origin === 'replica').reduce((n, p) => n + p.size, 0),
        hold: async (a) => { await this.hold(a) },
        meet: (peerId, addrs) => { this.meet(peerId, addrs) }
      }, {
        swarm: this.config.swarm,
        presenceIntervalMs: this.config.gossip.presenceIntervalMs,
        replicate: this.config.replicate
      })
      await this.gossip.start()
      const gossip = this.gossip
      this.metrics?.reportMembership(() => gossip.stats().members)
      this.rejoinTimer = setInterval(() => { this.rejoin() }, this.config.gossip.presenceIntervalMs)
      if (this.config.store.quota > 0) {
        this.enforceQuotaSoon()
        this.quotaTimer = setInterval(() => { this.enforceQuotaSoon() }, QUOTA_CHECK_INTERVAL)
      }
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
    clearInterval(this.quotaTimer)
    this.activity?.stop()
    clearInterval(this.rejoinTimer)
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
    const log = this.host?.logger.forComponent('shoal:peer')
    void routing.provide(cid, { signal: AbortSignal.timeout(PROVIDE_TIMEOUT) }).then(
      ({ accepted }) => { log?.('provided %s to %d peers', cid, accepted) },
      (err) => { log?.('could not provide %s: %s', cid, err.message) }
    )
  }

  /** This peer's room and load, for its presence beat; store figures are cached for a while */
  private async load (): Promise<{ free: number, uploads: number, uploadSlots: number, pins: number }> {
    const now = Date.now()
    if (this.loadCache == null || now - this.loadCache.at > LOAD_CACHE_MS) {
      const stat = await this.store.stat()
      let free: number
      if (this.config.store.quota > 0) {
        free = Math.max(0, this.config.store.quota - stat.bytes)
      } else {
        const fsStat = await fs.statfs(this.components.root)
        free = fsStat.bavail * fsStat.bsize
      }
      this.loadCache = { at: now, free, pins: stat.pins }
    }
    const ex = this.exchange?.stats()
    return { free: this.loadCache.free, pins: this.loadCache.pins, uploads: ex?.activeUploads ?? 0, uploadSlots: this.config.exchange.uploadSlots }
  }

  /**
   * Members heard of only through others get dialled until this peer has MIN_SWARM_PEERS direct
   * neighbours: a gossip mesh needs several, and a swarm that hangs off one bootstrap peer falls
   * apart with it
   */
  private meet (peerId: string, addrs: string[]): void {
    const host = this.host
    if (host == null || addrs.length === 0 || this.meeting.size >= MAX_MEETING) return
    if (host.getPeers().length >= MIN_SWARM_PEERS || this.meeting.has(peerId)) return
    let id: PeerId
    try {
      id = peerIdFromString(peerId)
    } catch {
      return
    }
    if (id.equals(this.peerId) || host.getConnections(id).length > 0) return
    this.meeting.add(peerId)
    const log = host.logger.forComponent('shoal:peer')
    void (async () => {
      await host.peerStore.merge(id, { multiaddrs: addrs.map(a => multiaddr(a)) })
      await host.dial(id, { signal: AbortSignal.timeout(10 * second) })
    })().catch((err) => { log('could not meet member %s: %s', peerId, err.message) }).finally(() => { this.meeting.delete(peerId) })
  }

  /** Dial peers remembered from earlier runs, newest first, until there are enough neighbours */
  private async reconnectKnown (host: Host): Promise<void> {
    const log = host.logger.forComponent('shoal:peer')
    try {
      const known = (await host.peerStore.all()).filter(p => p.addresses.length > 0 && !p.id.equals(this.peerId))
      for (const p of known.slice(0, MAX_RECONNECT)) {
        if (this.host !== host || host.getPeers().length >= MIN_SWARM_PEERS) return
        if (host.getConnections(p.id).length > 0) continue
        await host.dial(p.id, { signal: AbortSignal.timeout(5 * second) }).catch((err) => { log('known peer %p did not answer: %s', p.id, err.message) })
      }
    } catch (err: any) {
      log('could not reconnect to known peers: %s', err.message)
    }
  }

  /**
   * Members that went silent (suspect or gone, not yet forgotten) are dialled again once a
   * heartbeat period while this peer has fewer than MIN_SWARM_PEERS neighbours. Their beats
   * cannot tell us they are back, so without this the two halves of a healed partition stay
   * apart until the DHT happens to connect them.
   */
  private rejoin (): void {
    const host = this.host
    const gossip = this.gossip
    if (host == null || gossip == null || host.getPeers().length >= MIN_SWARM_PEERS) return
    const log = host.logger.forComponent('shoal:peer')
    for (const m of gossip.members()) {
      if (this.rejoining.size >= MAX_REJOINING) return
      if (m.self === true || m.state === 'alive' || m.addresses.length === 0 || this.rejoining.has(m.peerId)) continue
      let id: PeerId
      try {
        id = peerIdFromString(m.peerId)
      } catch {
        continue
      }
      // connected but silent for 2.5 periods: the connection may be dead (a partition leaves TCP
      // backing off for minutes); a ping tells, and a dead one is dropped and dialled afresh. A
      // connection younger than that is left alone: the member may have just restarted, and its
      // first beats are still to come
      const quietSince = Date.now() - GONE_AFTER_BEATS * this.config.gossip.presenceIntervalMs
      const all = host.getConnections(id)
      const connections = all.filter(c => c.timeline.open < quietSince)
      if (all.length > connections.length) continue
      // blocks still flow from or to it: its beats wait behind them on a saturated link
      if (connections.length > 0 && (this.exchange?.lastHeard(m.peerId) ?? 0) >= quietSince) continue
      if (connections.length > 0 && m.state !== 'gone') continue
      const timeoutMs = Math.min(this.config.limits.dialTimeoutMs, Math.max(2 * this.config.gossip.presenceIntervalMs, 2 * second))
      this.rejoining.add(m.peerId)
      void (async () => {
        if (connections.length > 0) {
          try {
            await host.services.ping.ping(id, { signal: AbortSignal.timeout(timeoutMs) })
            return
          } catch {
            // exchange traffic during the ping says it is alive after all
            if ((this.exchange?.lastHeard(m.peerId) ?? 0) >= quietSince) return
            for (const c of connections) c.abort(new Error('member silent and ping unanswered'))
          }
        }
        await host.peerStore.merge(id, { multiaddrs: m.addresses.map(a => multiaddr(a)) })
        // a short timeout: the next period tries again
        await host.dial(id, { signal: AbortSignal.timeout(timeoutMs) })
        log('rejoined silent member %s', m.peerId)
      })().catch(() => {}).finally(() => { this.rejoining.delete(m.peerId) })
    }
  }

  /** Replicate announced content: fetch it (from its publisher first), pin it as a replica, provide it */
  private async hold (a: Announcement): Promise<void> {
    const host = this.requireHost('replicating')
    const member = this.gossip?.member(a.publisher)
    if (member != null && member.addresses.length > 0) {
      const { peerIdFromString } = await import('@libp2p/peer-id')
      const id = peerIdFromString(a.publisher)
      await host.peerStore.merge(id, { multiaddrs: member.addresses.map(m => multiaddr(m)) }).catch(() => {})
      await host.dial(id, { signal: AbortSignal.timeout(10 * second) }).catch(() => {})
    }
    // fetching provides it too (in the background)
    await this.fetchAs(a.cid, { name: a.name }, 'replica')
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
    this.enforceQuotaSoon()
    return result
  }

  /**
   * Keep the store within `store.quota` by evicting unpinned cached content, least recently
   * used first; one eviction runs at a time, and a request during one runs once after it
   */
  private enforceQuotaSoon (): void {
    const quota = this.config.store.quota
    if (quota <= 0) return
    if (this.evicting != null) {
      this.evictAgain = true
      return
    }
    const log = this.host?.logger.forComponent('shoal:peer')
    this.evicting = this.store.evict(quota).then((r) => {
      this.loadCache = undefined
      if (r.removed > 0) log?.('evicted %d blocks (%d bytes) to stay within the quota', r.removed, r.freed)
      if (r.pinnedBytes > quota) log?.('pinned content (%d bytes) alone exceeds the store quota (%d bytes)', r.pinnedBytes, quota)
    }, (err) => { log?.('eviction failed: %s', err.message) }).finally(() => {
      this.evicting = undefined
      if (this.evictAgain) {
        this.evictAgain = false
        this.enforceQuotaSoon()
      }
    })
  }

  /** Resolves when no eviction is running (tests, shutdown) */
  async evictions (): Promise<void> {
    while (this.evicting != null) await this.evicting
  }

  /**
   * A fetch session for a DAG with every source this peer knows: connected peers (lightest loaded
   * first) and, when none has it, DHT providers; for readers such as the gateway
   */
  session (root: CID, options: Omit<ExchangeFetchOptions, 'providers' | 'rank'> = {}): FetchSession {
    const exchange = this.requireExchange('fetching')
    const routing = this.routing
    return exchange.fetch(root, {
      ...options,
      providers: routing != null ? (signal) => this.providerIds(routing, root, signal) : undefined,
      rank: (peerId) => loadRank(this.gossip?.member(peerId))
    })
  }

  private async * providerIds (routing: Routing, root: CID, signal: AbortSignal): AsyncGenerator<PeerId> {
    for await (const p of routing.findProviders(root, { signal })) yield p.id
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
   * Blocks to read a DAG from: the store, and when online and a block is missing, a fetch
   * session for the DAG that the reader waits on, so content streams while it arrives
   */
  private readable (root: CID, options: AbortOptions): { blocks: Pick<Blockstore, 'get'>, close(): void } {
    const exchange = this.exchange
    const store = this.store.blocks
    if (exchange == null) return { blocks: store, close: () => {} }
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort() }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    let session: FetchSession | undefined
    // with a quota, what is read is what is used: least recently used cache goes first
    const touch = this.config.store.quota > 0
    const peer = this
    const blocks = {
      async * get (cid: CID, opts?: AbortOptions): AsyncGenerator<Uint8Array> {
        if (!await store.has(cid)) {
          session ??= peer.session(root, { signal: controller.signal })
          await session.blockReady(cid)
        }
        const bytes = await store.getBytes(cid, opts)
        if (touch) void store.touch(cid)
        yield bytes
      }
    }
    return {
      blocks: blocks as unknown as Pick<Blockstore, 'get'>,
      close: () => {
        options.signal?.removeEventListener('abort', onAbort)
        // a reader that stops early does not leave a fetch running
        controller.abort()
        if (session != null) this.enforceQuotaSoon()
      }
    }
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
    const holders = new Map<string, HolderInfo>()
    const note = (peerId: string, source: 'dht' | 'gossip'): void => {
      const h = holders.get(peerId) ?? { peerId, sources: [] }
      if (!h.sources.includes(source)) h.sources.push(source)
      const state = gossip.member(peerId)?.state
      if (state != null) h.state = state
      holders.set(peerId, h)
    }
    for (const h of gossip.holders(root.toString())) {
      if (h.peerId !== this.peerId.toString()) note(h.peerId, 'gossip')
    }
    for await (const p of routing.findProviders(root, { signal: options.signal, timeoutMs: options.timeoutMs ?? STATUS_FIND_TIMEOUT })) {
      note(p.id.toString(), 'dht')
    }
    return { cid: root.toString(), local, pinned: await this.store.pins.has(root), holders: [...holders.values()] }
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

const LOAD_CACHE_MS = 30 * second
/** Direct neighbours a peer dials members to reach */
const MIN_SWARM_PEERS = 8
/** Known peers dialled at start at most */
const MAX_RECONNECT = 32
/** Member dials in flight at once */
const MAX_MEETING = 2
/** Dials to silent members in flight at once */
const MAX_REJOINING = 4
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
