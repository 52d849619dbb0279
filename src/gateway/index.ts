/**
 * The HTTP gateway (docs/gateway.md): `GET`/`HEAD /ipfs/<cid>[/<path>]` (and `/ipns/<name>[/<path>]`,
 * resolved first) as files, directory
 * listings and `index.html`, byte ranges, and the trustless responses (raw blocks and CARs) that
 * let a verifying client use any shoal peer. Missing blocks are fetched from the swarm and kept
 * (pull-through cache). It serves content only: nothing of the control API is reachable here.
 */
import { MAX_GATEWAY_HEADER_SIZE, MAX_GATEWAY_URL_LENGTH } from '../constants.js'
import { CONFIG_DEFAULTS } from '../defaults.js'
import { HttpGateway } from './server.js'
import type { PullThroughBlocks, PullThroughFetcher } from '../content/pull-through.js'
import type { ComponentLogger } from '@libp2p/interface'

/** The store operations the gateway reads through */
export type GatewayBlocks = PullThroughBlocks

/** The exchange operation the gateway fetches missing blocks with */
export type GatewayExchange = PullThroughFetcher

/** What the gateway reports to metrics; every method is optional */
export interface GatewayObserver {
  /** A response finished (or was cut off) with this status */
  request?(status: number, seconds: number): void
  /** Body bytes written */
  bytesServed?(bytes: number): void
  /** A block was read from the store (`hit`) or had to be fetched */
  block?(hit: boolean): void
}

/** Names the gateway resolves for `/ipns/<name>` (docs/names.md) */
export interface GatewayNames {
  /**
   * What a name serves now: its value (`/ipfs/<cid>[/path]`), how long it may be cached, and
   * the signed record; throws an error named NameNotFoundError or InvalidNameError
   */
  current(name: string, options?: { signal?: AbortSignal }): Promise<{ name: string, value: string, ttlMs: number, record: Uint8Array }>
}

export interface GatewayComponents {
  blocks: GatewayBlocks
  /** Absent when the peer is offline: misses then time out */
  exchange?: GatewayExchange
  /** Runs `fn` while gc waits: each fetch of a missing block and its first read (fetched blocks are not pinned) */
  withWriteGuard?<T>(fn: () => Promise<T>): Promise<T>
  logger?: ComponentLogger
  observer?: GatewayObserver
  /** Absent: `/ipns/` paths are not served */
  names?: GatewayNames
}

export interface GatewayInit {
  /**
   * Host to bind; any address (the gateway serves content only)
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Port to bind; 0 picks a free one
   * @default 8080
   */
  port?: number
  /**
   * How long a request waits for a block before it is answered 504 (or, once the body has
   * started, cut off)
   * @default 30 s
   */
  retrievalTimeoutMs?: number
  /**
   * Requests served at once; more are answered 429
   * @default 1024
   */
  maxConcurrentRequests?: number
  /**
   * Largest request head (request line and headers); more is answered 431
   * @default 8 KiB
   */
  maxHeaderSize?: number
  /**
   * Longest request target; longer is answered 414
   * @default 4 KiB
   */
  maxUrlLength?: number
}

export type ResolvedGatewayInit = Required<GatewayInit>

export interface Gateway {
  /** Bind and listen; resolves with the bound HOST:PORT */
  start(): Promise<string>
  /** Stop listening and end open connections */
  stop(): Promise<void>
  /** The bound HOST:PORT, once started */
  readonly address?: string
}

export function createGateway (components: GatewayComponents, init: GatewayInit = {}): Gateway {
  const defaults = CONFIG_DEFAULTS.gateway
  // HOST:PORT; the default's host is never an IPv6 address
  const colon = defaults.address.lastIndexOf(':')
  return new HttpGateway(components, {
    host: init.host ?? defaults.address.slice(0, colon),
    port: init.port ?? Number(defaults.address.slice(colon + 1)),
    retrievalTimeoutMs: init.retrievalTimeoutMs ?? defaults.retrievalTimeoutMs,
    maxConcurrentRequests: init.maxConcurrentRequests ?? defaults.maxConcurrentRequests,
    maxHeaderSize: init.maxHeaderSize ?? MAX_GATEWAY_HEADER_SIZE,
    maxUrlLength: init.maxUrlLength ?? MAX_GATEWAY_URL_LENGTH
  })
}
