import type { ImportEntry, ExportEntry } from '../content/index.js'

export type { ImportEntry, ExportEntry }

export interface AbortOptions {
  signal?: AbortSignal
}

/** Events of long operations; `publish:bytes` is sampled, `fetch:block` is sent per block in the daemon and at most every 100 ms over the control API (the last one always), `*:done` is guaranteed */
export type ProgressEvent =
  | { type: 'publish:bytes', bytes: number }
  | { type: 'publish:done', bytes: number }

export type { FetchProgressEvent, FetchResult } from '../exchange/index.js'

export interface ProgressOptions {
  onProgress?(event: ProgressEvent): void
}

export interface IdResult {
  peerId: string
  /** Multiaddrs others can dial, each ending in /p2p/<peerId>; empty when the peer is offline */
  addresses: string[]
  agentVersion: string
  /** Whether the libp2p host is running */
  online: boolean
  /** HOST:PORT of the HTTP gateway, when a daemon serves one */
  gateway?: string
}

export interface PublishOptions extends AbortOptions, ProgressOptions {
  /** IPIP-499 profile; the config's `publish.profile` when absent */
  profile?: string
  /** Pin the root (default true) */
  pin?: boolean
  /** Announce it on the swarm's announce topic when online (default true) */
  announce?: boolean
  /** Tags for the announcement (replication policies select by tag) */
  tags?: string[]
  /** Copies to ask the swarm for: volunteers are collected and this many assigned (default 0) */
  replicas?: number
}

export interface PublishResult {
  cid: string
  /** Bytes of file content */
  size: number
  name: string
  /** Peers the announcement went to directly; absent when not announced (offline or --no-announce) */
  announced?: number
  /** Peers assigned to hold replicas, when replicas were asked for */
  assigned?: string[]
}

/** A peer that provides a CID in the DHT */
export interface ProviderInfo {
  peerId: string
  addresses: string[]
}

export interface FindOptions extends AbortOptions {
  /** Stop after this many providers (default 20) */
  limit?: number
  /** Give up after this many ms (default 30 s) */
  timeoutMs?: number
}

export interface ProvideResult {
  cid: string
  /** DHT peers that accepted the provider record */
  accepted: number
}

export type { Member, MemberState, Announcement } from '../gossip/index.js'

export interface HolderInfo {
  peerId: string
  /** Where we learnt it holds the CID: a DHT provider record, or its HELD gossip */
  sources: Array<'dht' | 'gossip'>
  /** Its state in our membership table, when it is a member */
  state?: import('../gossip/index.js').MemberState
}

export interface StatusResult {
  cid: string
  /** Whether this peer holds it all */
  local: boolean
  pinned: boolean
  holders: HolderInfo[]
}

export interface FetchOptions extends AbortOptions {
  /** Multiaddrs (with /p2p/) of peers to fetch from, besides connected peers that have it */
  from?: string[]
  /** Name to pin it by (default: the CID) */
  name?: string
  onProgress?(event: import('../exchange/index.js').FetchProgressEvent): void
}

export interface CatOptions extends AbortOptions {
  offset?: number
  length?: number
}

export interface PinInfo {
  /** The root (for an unreadable record: the CID its file is named for, or the file's name) */
  cid: string
  name: string
  size: number
  pinnedAt: number
  /**
   * Set when the pin's record cannot be read (name, size and pinnedAt are then empty): the
   * record's path and why. gc refuses to run until it is fixed or removed
   */
  unreadable?: UnreadablePinInfo
}

export interface UnreadablePinInfo {
  /** The record's path */
  file: string
  /** Why it cannot be read */
  reason: string
}

export interface LsEntry {
  name: string
  cid: string
  kind: 'file' | 'directory' | 'symlink' | 'other'
  size: number
}

export interface GcResult {
  removed: number
  freed: number
  kept: number
}

export interface VerifyResult {
  checked: number
  corrupt: string[]
  skipped: number
  dropped: boolean
  /** Pin records that cannot be read, as `pinLs` lists them (verify neither repairs nor removes them) */
  unreadablePins: PinInfo[]
}

export interface PeerInfo {
  peerId: string
  addresses: string[]
  direction: 'inbound' | 'outbound'
  latencyMs?: number
}

export interface StatsResult {
  peerId: string
  online: boolean
  store: { blocks: number, bytes: number, pins: number }
  /** Present when online */
  network?: { connections: number, peers: number, knownPeers: number, gossipTopics: number }
  /** Block exchange counters, when online */
  exchange?: import('../exchange/index.js').ExchangeStats
  /** Gossip counters, when online */
  gossip?: import('../gossip/index.js').GossipStats
  /** Seconds since the peer started */
  uptime: number
}

/**
 * What every front end of shoal can ask of a peer. Two implementations: the in-process peer and the
 * HTTP client of a running daemon; one compliance suite runs against both. Errors carry the same
 * `name` through either.
 */
export interface ShoalApi {
  id(options?: AbortOptions): Promise<IdResult>
  /** Import one file or directory tree (entries sharing one top-level name) and pin its root */
  publish(entries: AsyncIterable<ImportEntry>, options?: PublishOptions): Promise<PublishResult>
  /**
   * Fetch a whole DAG from the network into the store (only the blocks missing), verify every
   * block, and pin the root; needs a running peer
   */
  fetch(cid: string, options?: FetchOptions): Promise<import('../exchange/index.js').FetchResult>
  /** Bytes of a file (`CID`, `CID/path`), optionally a range; fetched from peers when missing */
  cat(path: string, options?: CatOptions): AsyncIterable<Uint8Array>
  /** Every entry under a path, parents first; paths are relative to it */
  get(path: string, options?: AbortOptions): AsyncIterable<ExportEntry>
  /** Entries of a directory, or the one entry of a file */
  ls(path: string, options?: AbortOptions): Promise<LsEntry[]>
  pinAdd(cid: string, options?: AbortOptions & { name?: string }): Promise<PinInfo>
  pinRm(cid: string, options?: AbortOptions): Promise<void>
  pinLs(options?: AbortOptions): Promise<PinInfo[]>
  gc(options?: AbortOptions): Promise<GcResult>
  verify(options?: AbortOptions & { drop?: boolean }): Promise<VerifyResult>
  peers(options?: AbortOptions): Promise<PeerInfo[]>
  connect(multiaddr: string, options?: AbortOptions): Promise<PeerInfo>
  stats(options?: AbortOptions): Promise<StatsResult>
  /**
   * Measure raw stream throughput from a peer over `/shoal/perf/1.0.0` (the peer needs
   * `exchange.perf` on); needs a running peer
   */
  perf(multiaddr: string, options?: PerfOptions): Promise<PerfResult>
  /** Providers of a CID in the DHT; needs a running peer */
  find(cid: string, options?: FindOptions): Promise<ProviderInfo[]>
  /** Provide a CID in the DHT now; it must be stored in full here; needs a running peer */
  provide(cid: string, options?: AbortOptions): Promise<ProvideResult>
  /** The swarm's membership table, this peer included; needs a running peer */
  members(options?: AbortOptions): Promise<import('../gossip/index.js').Member[]>
  /** Announcements from the swarm as they arrive, until aborted; needs a running peer */
  watch(options?: AbortOptions): AsyncIterable<import('../gossip/index.js').Announcement>
  /** Who holds a CID, from the DHT and from gossip; needs a running peer */
  status(cid: string, options?: AbortOptions & { timeoutMs?: number }): Promise<StatusResult>
  /**
   * A CARv1 of the DAG at a path (`CID`, `CID/path`), rooted at the CID: the blocks that resolve
   * the path, then the DAG at its end, depth-first; fetched from peers when missing
   */
  exportCar(path: string, options?: ExportCarOptions): AsyncIterable<Uint8Array>
  /**
   * Store the blocks of a CAR as it streams in, each verified against its CID first, and pin its
   * roots; a block that does not match stops the import with InvalidCarError
   */
  importCar(car: AsyncIterable<Uint8Array>, options?: ImportCarOptions): Promise<ImportCarResult>
}

export interface ExportCarOptions extends AbortOptions {
  /** `all` (default), `entity` or `block`: as the trustless gateway's `dag-scope` */
  scope?: 'all' | 'entity' | 'block'
}

export interface ImportCarOptions extends AbortOptions {
  /** Pin the CAR's roots (default true); their DAGs must then be complete */
  pin?: boolean
}

export interface ImportCarResult {
  roots: string[]
  /** Blocks read and verified */
  blocks: number
  bytes: number
  /** Roots pinned */
  pinned: string[]
}

export interface PerfOptions extends AbortOptions, Pick<import('../exchange/perf.js').PerfOptions, 'hash'> {
  /** Bytes to download (default DEFAULT_PERF_BYTES) */
  bytes?: number
}

export interface PerfResult {
  peerId: string
  bytes: number
  seconds: number
  /** 10^6 bytes per second */
  MBps: number
  hashed?: import('../exchange/perf.js').PerfRun['hashed']
}
