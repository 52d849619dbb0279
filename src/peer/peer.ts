import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { cat, exportCar, exportTree, importCar, importContent, list, parseContentPath } from '../content/index.js'
import { DaemonNotRunningError, IncompleteCarError, InvalidArgumentError, InvalidCIDError } from '../errors.js'
import { createStore } from '../store/index.js'
import { AGENT_VERSION } from '../version.js'
import { DEFAULT_PERF_BYTES } from '../constants.js'
import { repoPaths } from './repo.js'
import type { Config } from './config.js'
import type { RepoLock } from './repo.js'
import type {
  AbortOptions, CatOptions, ExportEntry, FetchOptions, GcResult, IdResult, ImportEntry, LsEntry, PeerInfo, PinInfo,
  PerfResult, PublishOptions, PublishResult, ShoalApi, StatsResult, VerifyResult, ExportCarOptions, ImportCarOptions, ImportCarResult
} from '../api/types.js'
import type { Host } from '../host/index.js'
import type { Exchange, FetchResult } from '../exchange/index.js'
import type { Pin, Store } from '../store/index.js'
import type { PrivateKey, PeerId, Connection } from '@libp2p/interface'
import type { FetchSession } from '../exchange/index.js'
import type { Blockstore } from 'interface-blockstore'
import type { ShoalMetrics } from '../gateway/metrics.js'

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
  /** Prometheus metrics, when online and `metrics.enabled` */
  metrics?: ShoalMetrics
  /** HOST:PORT of the HTTP gateway, set by the daemon that serves it */
  gatewayAddress?: string
  private readonly components: PeerComponents
  private started = false
  private startedAt = Date.now()

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
        agentVersion: AGENT_VERSION,
        metrics: this.metrics?.libp2p
      })
      await host.start()
      this.host = host
      const { createExchange } = await import('../exchange/index.js')
      const exchange = createExchange({ host, blocks: this.metrics?.countFetched(this.store.blocks) ?? this.store.blocks }, this.config.exchange)
      this.exchange = this.metrics?.timeFetches(exchange) ?? exchange
      await this.exchange.start()
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
    try {
      await this.exchange?.stop()
      await this.host?.stop()
    } finally {
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
    return this.store.withWriteGuard(async () => {
      const result = await importContent(entries, this.store.blocks, {
        profile: options.profile ?? this.config.publish.profile,
        signal: options.signal,
        onProgress: (e) => {
          options.onProgress?.(e.type === 'import:bytes' ? { type: 'publish:bytes', bytes: e.bytes } : { type: 'publish:done', bytes: e.bytes })
        }
      })
      if (options.pin !== false) {
        await this.store.pin(result.cid, { name: result.name, size: result.size }, options)
      }
      return { cid: result.cid.toString(), size: result.size, name: result.name }
    })
  }

  async fetch (cid: string, options: FetchOptions = {}): Promise<FetchResult> {
    const exchange = this.requireExchange('fetching')
    const root = parseCid(cid)
    return this.store.withWriteGuard(async () => {
      const session = exchange.fetch(root, options)
      const result = await session.result
      const [entry] = await list(this.store.blocks, { cid: root, segments: [] }, options).catch(() => [])
      const size = entry != null && entry.kind !== 'directory' ? entry.size : await treeSize(this.get(cid, options)).catch(() => 0)
      await this.store.pin(root, { name: options.name ?? root.toString(), size }, options)
      return result
    })
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
    const blocks = {
      async * get (cid: CID, opts?: AbortOptions): AsyncGenerator<Uint8Array> {
        if (!await store.has(cid)) {
          session ??= exchange.fetch(root, { signal: controller.signal })
          await session.blockReady(cid)
        }
        yield await store.getBytes(cid, opts)
      }
    }
    return {
      blocks: blocks as unknown as Pick<Blockstore, 'get'>,
      close: () => {
        options.signal?.removeEventListener('abort', onAbort)
        // a reader that stops early does not leave a fetch running
        controller.abort()
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
    }
    return result
  }
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
