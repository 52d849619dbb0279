/**
 * Names: keys and signed mutable names (IPNS records, docs/names.md). A name is published by
 * signing a record with one of the repo's keys; the record is kept here, pushed on the swarm's
 * names topic (every follower has it within a gossip round) and put in the DHT under `/ipns/`
 * (the fallback for peers that were away, and what IPFS nodes read). Resolving answers from the
 * record held while it is within its TTL, and asks the DHT otherwise. Own records are put in the
 * DHT again before they expire; followed names are fetched as they change (follow.ts).
 */
import { NamesRoom } from './names.js'
import type { FollowerComponents, Follower } from './follow.js'
import type { NameGossipComponents, NameGossipStats } from './gossip.js'
import type { Keychain } from './keys.js'
import type { NeighbourComponents } from './neighbours.js'
import type { RecordInfo } from './records.js'
import type { ComponentLogger, Logger, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

export type { RecordInfo, IpnsName } from './records.js'
export type { KeyInfo } from './keys.js'
export type { FollowedName, Version } from './follow.js'
export { parseName, MAX_RECORD_BYTES } from './records.js'

export interface NamesComponents {
  /** The repo directory: keys in `keys/`, records and followed names in `names/` */
  root: string
  /** The peer's identity key (the key `self`) */
  self(): Promise<PrivateKey>
  /** Fetch a DAG (only the blocks missing) and pin it with origin `follow`; needs the peer online */
  fetch: FollowerComponents['fetch']
  pins: FollowerComponents['pins']
  unpin: FollowerComponents['unpin']
  /** The peer's log, while it is online */
  log(): Logger | undefined
}

export interface NamesInit {
  /**
   * How long a published record is valid
   * @default names.lifetimeMs of configs/default.json (48 hours)
   */
  lifetimeMs?: number
  /**
   * How long readers may cache a published record
   * @default names.ttlMs of configs/default.json (1 minute)
   */
  ttlMs?: number
  /**
   * How often own records are put in the DHT again (and signed anew once half their lifetime is gone)
   * @default names.republishIntervalMs of configs/default.json (4 hours)
   */
  republishIntervalMs?: number
  /**
   * Names whose versions this peer fetches and pins
   * @default replicate.follow of configs/default.json (none)
   */
  follow?: string[]
  /**
   * Versions kept of each followed name
   * @default replicate.keepVersions of configs/default.json (3)
   */
  keepVersions?: number
  /**
   * Push records on the swarm's names topic and take them from it; off, names travel by the DHT
   * alone (the IPNS way: followers look a name up again once its TTL has passed)
   * @default names.gossip of configs/default.json (true)
   */
  gossip?: boolean
  /** @default true */
  fsync?: boolean
}

/** What names need of an online peer */
export interface NamesNetwork {
  swarm: string
  dht: Pick<KadDHT, 'put' | 'get'>
  pubsub: NameGossipComponents['pubsub']
  /** Neighbours are asked for records (and answered) over `/shoal/names/1.0.0` */
  host: NeighbourComponents['host']
  logger: ComponentLogger
}

export interface PublishNameOptions {
  signal?: AbortSignal
  /** The key to sign with @default 'self' */
  key?: string
  lifetimeMs?: number
  ttlMs?: number
}

export interface PublishedName extends RecordInfo {
  /** Peers the record was pushed to on gossip; absent offline */
  gossiped?: number
  /** DHT peers that took the record; absent offline */
  dhtPeers?: number
}

export interface ResolvedName extends RecordInfo {
  /** The signed record, marshalled */
  record: Uint8Array
}

/** A record of a name became newer here, from gossip, the DHT or a publish */
export type NameUpdate = RecordInfo & {
  source: 'publish' | 'gossip' | 'dht' | 'neighbour'
  /** When it was taken here, ms since the epoch */
  time: number
}

export interface Names {
  readonly keys: Keychain
  readonly follower: Follower
  start(network: NamesNetwork): Promise<void>
  stop(): Promise<void>
  publish(value: string, options?: PublishNameOptions): Promise<PublishedName>
  /** The newest valid record of a name: held, or from the DHT once its TTL has passed (online) */
  resolve(name: string, options?: { signal?: AbortSignal }): Promise<ResolvedName>
  /**
   * What to serve for a name: for a followed name, its version fetched in full (so a version
   * still on its way, or one that failed, leaves the previous one served); else as `resolve`
   */
  current(name: string, options?: { signal?: AbortSignal }): Promise<ResolvedName>
  /** Called on every update, until the returned function is called */
  listen(fn: (update: NameUpdate) => void): () => void
  /** Updates as they are taken, until the signal aborts; a slow reader loses the oldest */
  watch(signal?: AbortSignal): AsyncGenerator<NameUpdate>
  stats(): NameGossipStats
}

export function createNames (components: NamesComponents, init: NamesInit = {}): Names {
  return new NamesRoom(components, init)
}
