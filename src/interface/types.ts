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
  /**
   * Whether peers on the internet can dial this one: `private` behind a NAT (reachable through
   * its relays only), `unknown` until a peer in public space has seen it, and while offline
   */
  reachability: Reachability
  /** Peer ids of the relays this peer holds a reservation on */
  relays: string[]
  /** The DHT's mode: a server answers others' queries and sits in their routing tables; absent offline */
  dht?: 'server' | 'client'
  /** Why no bootstrap peer answered (DNS, refused, timed out), while this peer is alone */
  bootstrap?: string
  /**
   * The swarm as this peer sees it (docs/gossip.md): its estimate of the swarm's size, and
   * whether its membership table holds only part of it (a large swarm); absent offline
   */
  swarm?: { estimate: number, partial: boolean }
  /** HOST:PORT of the HTTP gateway, when a daemon serves one */
  gateway?: string
}

export type Reachability = 'public' | 'private' | 'unknown'

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
  /** The name pointed at it (`shoal publish --key`); set by the command, not the call */
  ipns?: NameResult
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
  /** When this peer heard its HELD on gossip (ms since the epoch), when it did */
  heardAt?: number
}

export interface StatusResult {
  cid: string
  /** Whether this peer holds it all */
  local: boolean
  pinned: boolean
  holders: HolderInfo[]
  /** This peer's own reachability (see `IdResult`), which decides who can fetch from it */
  reachability: Reachability
  /** As in `IdResult` */
  bootstrap?: string
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
  /** The peer is in this peer's DHT routing table: it serves the DHT, and this peer asks it */
  dhtServer?: boolean
}

export interface StatsResult {
  peerId: string
  online: boolean
  /** As in `IdResult` */
  reachability: Reachability
  /** Peer ids of the relays this peer holds a reservation on */
  relays: string[]
  store: { blocks: number, bytes: number, pins: number }
  /** Present when online */
  network?: {
    connections: number
    peers: number
    knownPeers: number
    gossipTopics: number
    /** This peer's DHT mode and the peers in its routing table */
    dht: { mode: 'server' | 'client', routingTable: number }
    /** This peer's IPs that peers outside dialled back (AutoNAT v2) or a router maps to it (UPnP/NAT-PMP), while confirmed */
    confirmed: string[]
    /** With `nat.upnp`: the router that forwards this peer's port, the outside addresses, or why none */
    portMapping?: { gateway?: string, mapped: string[], problem?: string }
  }
  /** Block exchange counters, when online */
  exchange?: import('../exchange/index.js').ExchangeStats
  /** Gossip counters, when online */
  gossip?: import('../gossip/index.js').GossipStats
  /** Seconds since the peer started */
  uptime: number
}

/** `ShoalApi` and `RepoAccess` follow from the table of calls (calls.ts) */
export type { ShoalApi, RepoAccess } from './calls.js'

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

export type { KeyInfo, FollowedName, Version, NameUpdate } from '../naming/index.js'

/** A name's record, as `name publish` and `name resolve` give it */
export interface NameResult {
  /** The name (`k51...`) */
  name: string
  /** What it points to: `/ipfs/<cid>[/path]` */
  value: string
  sequence: number
  /** When the record stops being valid, ms since the epoch */
  validUntil: number
  /** How long readers may cache it, ms */
  ttlMs: number
  /** Peers the record was pushed to on gossip (publish, online) */
  gossiped?: number
  /** DHT peers that took the record (publish, online) */
  dhtPeers?: number
}

export interface NamePublishOptions extends AbortOptions {
  /** The key to sign with (default `self`, the peer's own) */
  key?: string
  /** How long the record is valid (default the config's `names.lifetimeMs`) */
  lifetimeMs?: number
  /** How long readers may cache it (default the config's `names.ttlMs`) */
  ttlMs?: number
}

export interface KeyExport {
  name: string
  /** The private key as libp2p protobuf bytes, base64 */
  key: string
}

export interface UnfollowResult {
  name: string
  /** Roots of versions that were unpinned */
  unpinned: string[]
}
