/**
 * Block exchange: the `/shoal/exchange/1.0.0` protocol (docs/exchange.md). The server serves
 * blocks from the store; the client fetches a DAG from many peers at once, verifying every
 * block before it is stored. This file states the room's interface and its factory; the
 * implementation is exchange.ts.
 */
import { ShoalExchange } from './exchange.js'
import type { ChannelProtocol } from './channel.js'
import type { BitswapStats } from './bitswap/server.js'
import type { TransferCollector } from './collect.js'
import type { FetchSession } from './session.js'
import type { FetchHandle } from './shared-fetch.js'
import type { PerfOptions, PerfRun } from './perf.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** The store operations the exchange uses */
export interface ExchangeBlocks {
  has(cid: CID): Promise<boolean>
  sizeOf(cid: CID): Promise<number | undefined>
  getBytes(cid: CID): Promise<Uint8Array>
  /**
   * The whole block, as the server sends it: read off the event loop where the store can (the
   * block I/O thread), into `into` (shared memory) when it fits there; throws BlockNotFoundError
   * when it is not stored
   */
  serveBytes(cid: CID, options?: { into?: Uint8Array }): Promise<Uint8Array>
  /** The block in one buffer, or in the chunks it arrived in, in order */
  put(cid: CID, bytes: Uint8Array | Uint8Array[]): Promise<CID>
  /**
   * Store the block only if its bytes hash to its CID; false, with nothing stored, if not. Both
   * puts throw StoreWriteError when the disk fails (full, read-only, I/O): no peer's fault.
   */
  putVerified(cid: CID, bytes: Uint8Array | Uint8Array[]): Promise<boolean>
}

/** How a fetch ended: `aborted` when its caller stopped it (a reader that ended early) */
export type FetchOutcome = 'done' | 'aborted' | 'failed'

/** What watches one fetch: its progress events and how it ended */
export interface FetchWatch {
  progress?(event: FetchProgressEvent): void
  ended(outcome: FetchOutcome): void
}

/**
 * Watches fetches (the dashboard's activity, the fetch duration metric): told of each fetch as it
 * starts, a fetch that joins one already running included
 */
export interface FetchObserver {
  fetchStarted(root: CID): FetchWatch
}

/** What the exchange reports to metrics */
export interface ExchangeMetrics {
  /** A block fetched from a peer was verified and stored */
  blockStored(protocol: ChannelProtocol, bytes: number): void
}

export interface ExchangeComponents {
  host: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'logger' | 'addEventListener' | 'removeEventListener'>
  blocks: ExchangeBlocks
  /** What watches fetches */
  observers?: FetchObserver[]
  metrics?: ExchangeMetrics
  /** Told of bulk transfers as they end, to run a full collection after them (collect.ts) */
  collector?: TransferCollector
}

export interface ExchangeInit {
  /**
   * Peers served at once; others are told BUSY
   * @default 16
   */
  uploadSlots?: number
  /**
   * Upload cap in bytes per second; 0 for none
   * @default 0
   */
  uploadRate?: number
  /**
   * Download cap in bytes per second; 0 for none
   * @default 0
   */
  downloadRate?: number
  /**
   * Inbound exchange streams in all
   * @default 256
   */
  maxInboundStreams?: number
  /**
   * Requests a client may have in flight on one stream
   * @default 64
   */
  maxRequestsPerStream?: number
  /**
   * Answer the raw-throughput probe `/shoal/perf/1.0.0`
   * @default false
   */
  perf?: boolean
  /**
   * Serve blocks over bitswap (`/ipfs/bitswap/1.2.0`, 1.1.0, 1.0.0) to IPFS nodes
   * @default true
   */
  bitswap?: boolean
}

export type ResolvedExchangeInit = Required<ExchangeInit>

/** `fetch:block` is sent for every block fetched (over the control API, sampled: src/api/sampled.ts); the others when they happen */
export type FetchProgressEvent =
  | { type: 'fetch:block', blocks: number, bytes: number, fetchedBytes: number, totalBytes?: number, peers: number, rate: number, eta?: number }
  /** A peer joined or left the session; `protocol` is how it is asked (a gateway's peerId is its origin) */
  | { type: 'fetch:peer', peerId: string, protocol: ChannelProtocol, joined: boolean, peers: number }
  | { type: 'fetch:bad-block', peerId: string, cid: string }
  | { type: 'fetch:done', blocks: number, bytes: number, fetchedBytes: number }

export interface FetchResult {
  cid: string
  /** Blocks in the DAG */
  blocks: number
  /** Bytes of all blocks in the DAG */
  bytes: number
  /** Blocks that came from the network (the rest were already stored) */
  fetchedBlocks: number
  fetchedBytes: number
  /** Of those, the bytes that came over each protocol: shoal's exchange, bitswap */
  fetchedBytesBy: Record<ChannelProtocol, number>
  /** Blocks that arrived twice (end-game) */
  duplicates: number
  durationMs: number
}

export interface FetchOptions {
  /** Peers to fetch from besides connected peers that have the root: multiaddrs with /p2p/ */
  from?: string[]
  /**
   * More providers (content routing), asked when neither `from` nor a connected peer has the
   * root; each joins as it is found. The signal aborts the search when the fetch ends.
   */
  providers?(signal: AbortSignal): AsyncIterable<PeerId>
  /** How much to prefer a peer (membership load); lower first */
  rank?(peerId: string): number
  signal?: AbortSignal
  onProgress?(event: FetchProgressEvent): void
  /**
   * Bytes this caller lets the DAG have, in blocks and in the size its root declares: past
   * them the caller's fetch fails with ContentTooLargeError (a replica must not grow past what
   * its announcement said). The session goes on for other callers.
   */
  maxBytes?: number
  /**
   * Whether to fetch the DAG under the root (the default) or the root block alone: a reader
   * that needs one block (a range request) must not start on its links
   */
  walk?: boolean
}

export interface ExchangeStats {
  server: { streams: number, blocksSent: number, bytesSent: number, busy: number, notFound: number, overBudget: number, resets: number }
  /** What was served to IPFS nodes over bitswap */
  bitswap: BitswapStats
  activeUploads: number
  activeFetches: number
  banned: number
}

export interface Exchange {
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Start fetching a DAG, or join the fetch of it that runs already (progress and abort stay the
   * caller's own); `result` settles when it is all stored
   */
  fetch(root: CID, options?: FetchOptions): FetchHandle
  stats(): ExchangeStats
  /**
   * When a peer last sent anything over the exchange (a request to us, a response to our
   * fetch), ms since the epoch: a connection busy with blocks is alive even when other
   * traffic on it (gossip, ping) waits behind them
   */
  lastHeard(peerId: string): number | undefined
  /** Download `bytes` from a peer over the raw perf protocol (it must have `exchange.perf` on) */
  perf(target: string, bytes: number, options?: PerfOptions): Promise<PerfRun>
}

export function createExchange (components: ExchangeComponents, init: ExchangeInit = {}): Exchange {
  return new ShoalExchange(components, init)
}

export type { FetchSession }
export type { FetchHandle }
export type { Target } from './exchange.js'
