/**
 * The control API, defined once: one row per call, naming its HTTP path, what it needs of the repo,
 * its arguments with their checks, and how its reply travels. `ShoalApi` (the methods), the
 * daemon's routes (routes.ts), the HTTP client's methods (client.ts) and the checks an in-process
 * peer makes (local.ts) all follow from this table; a new call is a row here, its implementation in
 * the peer, and its command.
 *
 * This module loads nothing but the checks, so a command that talks to a daemon imports it without
 * libp2p or the content code.
 *
 * Every call is `POST /api/v0/<path>` with the token. A call's first argument, when it has one,
 * is either a string sent under the row's `arg` name in the JSON body with the options, or (`body`)
 * a stream sent as the request body with the options in the query string.
 */
import { count, flag, list, matching, oneOf, optional, string, text } from './checks.js'
import { NAME_PATTERN, NAME_RULE } from '../names.js'
import type { Check } from './checks.js'
import type {
  AbortOptions, Announcement, CatOptions, ExportCarOptions, ExportEntry, FetchOptions, FetchResult, FindOptions, GcResult, IdResult,
  ImportCarOptions, ImportCarResult, ImportEntry, LsEntry, Member, PeerInfo, PerfOptions, PerfResult, PinInfo, ProvideResult,
  ProviderInfo, PublishOptions, PublishResult, StatsResult, StatusResult, VerifyResult,
  FollowedName, KeyExport, KeyInfo, NamePublishOptions, NameResult, NameUpdate, UnfollowResult
} from './types.js'

/**
 * What a call needs of the repo when no daemon serves it: `daemon`, a running daemon only;
 * `read`, the repo opened in process for reading, without its lock; `write`, the repo opened in
 * process under its lock, excluding a daemon and other writers
 */
export type RepoAccess = 'daemon' | 'read' | 'write'

/**
 * How a reply travels: `json`, the result as a JSON object (under `field` when it is a list);
 * `none`, an empty JSON object; `bytes` and `entries`, frames (frames.ts) of bytes or of a file
 * tree; `progress`, ndjson lines of `{event}` then one `{result}` or `{error}`; `lines`, ndjson
 * lines of items until the caller stops
 */
export type Reply = 'json' | 'none' | 'bytes' | 'entries' | 'progress' | 'lines'

/** Options that never travel: the caller's own signal and progress callback */
type LocalOption = 'signal' | 'onProgress'

type OptionChecks<O> = { [K in Exclude<keyof O, LocalOption>]-?: Check<O[K]> }

/** A first argument that is a string travels under `arg`; a stream is the body (frames of `entries`, or raw `bytes`) */
type ArgSpec<A> = [A] extends [void]
  ? { arg?: undefined, body?: undefined }
  : A extends string
    ? { arg: string, body?: undefined }
    : A extends AsyncIterable<ImportEntry> ? { arg?: undefined, body: 'entries' } : { arg?: undefined, body: 'bytes' }

type ReplyOf<R> = R extends AsyncIterable<infer T>
  ? ([T] extends [Uint8Array] ? 'bytes' : [T] extends [ExportEntry] ? 'entries' : 'lines')
  : [Awaited<R>] extends [void] ? 'none' : 'json' | 'progress'

export type CallSpec<A, O, R> = ArgSpec<A> & {
  /** Under /api/v0/ */
  path: string
  access: RepoAccess
  options: OptionChecks<O>
  reply: ReplyOf<R>
  /** For a `json` reply that is a list: the key of the object it travels in */
  field?: string
  /** The call as messages name it (default: its name) */
  title?: string
  /** What it has done is kept when it is cut off, so running it again resumes */
  resumes?: boolean
}

/** A row of the table, typed by the method it defines */
export type Row<A, O, R> = CallSpec<A, O, R> & {
  /** Never set: carries the method's types to `ShoalApi` */
  readonly types?: { arg: A, options: O, result: R }
}

/** A row as the code that serves every call sees it */
export interface Call {
  path: string
  access: RepoAccess
  arg?: string
  body?: 'entries' | 'bytes'
  options: Record<string, Check<unknown>>
  reply: Reply
  field?: string
  title?: string
  resumes?: boolean
}

function call<A, O, R> (spec: CallSpec<A, O, R>): Row<A, O, R> {
  return spec as Row<A, O, R>
}

/** A method of `ShoalApi`, from its row */
type MethodOf<C> = C extends Row<infer A, infer O, infer R>
  ? ([A] extends [void] ? (options?: O) => R : (arg: A, options?: O) => R)
  : never

const cid = 'cid'
const tag = matching(NAME_PATTERN, `be ${NAME_RULE}`)

export const calls = {
  id: call<void, AbortOptions, Promise<IdResult>>({ path: 'id', access: 'read', options: {}, reply: 'json' }),
  /** Import one file or directory tree (entries sharing one top-level name) and pin its root */
  publish: call<AsyncIterable<ImportEntry>, PublishOptions, Promise<PublishResult>>({
    path: 'publish',
    access: 'write',
    body: 'entries',
    options: { profile: optional(text), pin: optional(flag), announce: optional(flag), tags: optional(list(tag, { max: 16, key: 'tag' })), replicas: optional(count(64)) },
    reply: 'json'
  }),
  /**
   * Fetch a whole DAG from the network into the store (only the blocks missing), verify every
   * block, and pin the root; needs a running peer
   */
  fetch: call<string, FetchOptions, Promise<FetchResult>>({ path: 'fetch', access: 'daemon', arg: cid, options: { from: optional(list(text)), name: optional(string) }, reply: 'progress', resumes: true }),
  /** Bytes of a file (`CID`, `CID/path`), optionally a range; fetched from peers when missing */
  cat: call<string, CatOptions, AsyncIterable<Uint8Array>>({ path: 'cat', access: 'read', arg: 'path', options: { offset: optional(count()), length: optional(count()) }, reply: 'bytes' }),
  /** Every entry under a path, parents first; paths are relative to it */
  get: call<string, AbortOptions, AsyncIterable<ExportEntry>>({ path: 'get', access: 'read', arg: 'path', options: {}, reply: 'entries' }),
  /** Entries of a directory, or the one entry of a file */
  ls: call<string, AbortOptions, Promise<LsEntry[]>>({ path: 'ls', access: 'read', arg: 'path', options: {}, reply: 'json', field: 'entries' }),
  pinAdd: call<string, AbortOptions & { name?: string }, Promise<PinInfo>>({ path: 'pin/add', access: 'write', arg: cid, options: { name: optional(string) }, reply: 'json', title: 'pin add' }),
  pinRm: call<string, AbortOptions, Promise<void>>({ path: 'pin/rm', access: 'write', arg: cid, options: {}, reply: 'none', title: 'pin rm' }),
  pinLs: call<void, AbortOptions, Promise<PinInfo[]>>({ path: 'pin/ls', access: 'read', options: {}, reply: 'json', field: 'pins', title: 'pin ls' }),
  gc: call<void, AbortOptions, Promise<GcResult>>({ path: 'gc', access: 'write', options: {}, reply: 'json' }),
  verify: call<void, AbortOptions & { drop?: boolean }, Promise<VerifyResult>>({ path: 'verify', access: 'write', options: { drop: optional(flag) }, reply: 'json' }),
  peers: call<void, AbortOptions, Promise<PeerInfo[]>>({ path: 'peers', access: 'daemon', options: {}, reply: 'json', field: 'peers' }),
  connect: call<string, AbortOptions, Promise<PeerInfo>>({ path: 'connect', access: 'daemon', arg: 'multiaddr', options: {}, reply: 'json' }),
  stats: call<void, AbortOptions, Promise<StatsResult>>({ path: 'stats', access: 'read', options: {}, reply: 'json' }),
  /**
   * Measure raw stream throughput from a peer over `/shoal/perf/1.0.0` (the peer needs
   * `exchange.perf` on); needs a running peer
   */
  perf: call<string, PerfOptions, Promise<PerfResult>>({ path: 'perf', access: 'daemon', arg: 'multiaddr', options: { bytes: optional(count()), hash: optional(flag) }, reply: 'json' }),
  /** Providers of a CID in the DHT; needs a running peer */
  find: call<string, FindOptions, Promise<ProviderInfo[]>>({ path: 'find', access: 'daemon', arg: cid, options: { limit: optional(count()), timeoutMs: optional(count()) }, reply: 'json', field: 'providers' }),
  /** Provide a CID in the DHT now; it must be stored in full here; needs a running peer */
  provide: call<string, AbortOptions, Promise<ProvideResult>>({ path: 'provide', access: 'daemon', arg: cid, options: {}, reply: 'json' }),
  /** The swarm's membership table, this peer included; needs a running peer */
  members: call<void, AbortOptions, Promise<Member[]>>({ path: 'members', access: 'daemon', options: {}, reply: 'json', field: 'members' }),
  /** Announcements from the swarm as they arrive, until aborted; needs a running peer */
  watch: call<void, AbortOptions, AsyncIterable<Announcement>>({ path: 'watch', access: 'daemon', options: {}, reply: 'lines' }),
  /** Who holds a CID, from the DHT and from gossip; needs a running peer */
  status: call<string, AbortOptions & { timeoutMs?: number }, Promise<StatusResult>>({ path: 'status', access: 'daemon', arg: cid, options: { timeoutMs: optional(count()) }, reply: 'json' }),
  /**
   * A CARv1 of the DAG at a path (`CID`, `CID/path`), rooted at the CID: the blocks that resolve
   * the path, then the DAG at its end, depth-first; fetched from peers when missing
   */
  exportCar: call<string, ExportCarOptions, AsyncIterable<Uint8Array>>({ path: 'car/export', access: 'read', arg: 'path', options: { scope: optional(oneOf('all', 'entity', 'block')) }, reply: 'bytes', title: 'export' }),
  /**
   * Store the blocks of a CAR as it streams in, each verified against its CID first, and pin its
   * roots; a block that does not match stops the import with InvalidCarError
   */
  importCar: call<AsyncIterable<Uint8Array>, ImportCarOptions, Promise<ImportCarResult>>({ path: 'car/import', access: 'write', body: 'bytes', options: { pin: optional(flag) }, reply: 'json', title: 'import' }),
  /** A new Ed25519 key in the repo's keychain, to sign names with */
  keyGen: call<string, AbortOptions, Promise<KeyInfo>>({ path: 'key/gen', access: 'write', arg: 'name', options: {}, reply: 'json', title: 'key gen' }),
  /** The keys, `self` (the peer's own) first, each with the IPNS name it signs for */
  keyLs: call<void, AbortOptions, Promise<KeyInfo[]>>({ path: 'key/ls', access: 'read', options: {}, reply: 'json', field: 'keys', title: 'key ls' }),
  keyRm: call<string, AbortOptions, Promise<KeyInfo>>({ path: 'key/rm', access: 'write', arg: 'name', options: {}, reply: 'json', title: 'key rm' }),
  /** A key in the form Kubo's `ipfs key export` writes (libp2p protobuf), base64: the one way a key leaves the repo */
  keyExport: call<string, AbortOptions, Promise<KeyExport>>({ path: 'key/export', access: 'read', arg: 'name', options: {}, reply: 'json', title: 'key export' }),
  keyImport: call<string, AbortOptions & { key: string }, Promise<KeyInfo>>({ path: 'key/import', access: 'write', arg: 'name', options: { key: text }, reply: 'json', title: 'key import' }),
  /**
   * Point a name at a CID (or /ipfs/ path): a new signed record with the next sequence number,
   * kept here and, online, pushed on gossip and put in the DHT
   */
  namePublish: call<string, NamePublishOptions, Promise<NameResult>>({ path: 'name/publish', access: 'write', arg: 'value', options: { key: optional(text), lifetimeMs: optional(count()), ttlMs: optional(count()) }, reply: 'json', title: 'name publish' }),
  /** What a name points to now: the newest valid record held, or (online) found in the swarm */
  nameResolve: call<string, AbortOptions, Promise<NameResult>>({ path: 'name/resolve', access: 'read', arg: 'name', options: {}, reply: 'json', title: 'name resolve' }),
  /** Names as their records become newer here (gossip, DHT, publish), until aborted; needs a running peer */
  watchNames: call<void, AbortOptions, AsyncIterable<NameUpdate>>({ path: 'name/watch', access: 'daemon', options: {}, reply: 'lines', title: 'watch' }),
  /** Follow a name: fetch and pin each new version of it (online) */
  follow: call<string, AbortOptions, Promise<FollowedName>>({ path: 'follow', access: 'write', arg: 'name', options: {}, reply: 'json' }),
  /** Stop following a name, and unpin the versions kept of it */
  unfollow: call<string, AbortOptions, Promise<UnfollowResult>>({ path: 'unfollow', access: 'write', arg: 'name', options: {}, reply: 'json' }),
  /** The names followed, each with its versions kept */
  following: call<void, AbortOptions, Promise<FollowedName[]>>({ path: 'following', access: 'read', options: {}, reply: 'json', field: 'names' })
}

export type CallName = keyof typeof calls

/**
 * What every front end of shoal can ask of a peer, one method per row of `calls`. Two
 * implementations: the in-process peer and the HTTP client of a running daemon; one compliance
 * suite runs against both. Errors carry the same `name` through either.
 */
export type ShoalApi = { [K in CallName]: MethodOf<typeof calls[K]> }

/** What a command that makes these calls needs of the repo: the most any of them needs */
export function accessOf (names: readonly CallName[]): RepoAccess {
  const order: RepoAccess[] = ['read', 'write', 'daemon']
  return order[Math.max(0, ...names.map(n => order.indexOf(calls[n].access)))]
}

/** The rows, each with its name */
export function callList (): Array<[CallName, Call]> {
  return Object.entries(calls) as Array<[CallName, Call]>
}

/**
 * A call's arguments checked as its row says: the first (when it is a string) and each option
 * that travels; the rest of the options (signal, onProgress) pass as they are
 */
export function checkArgs (c: Call, arg: unknown, options: Record<string, unknown> = {}): { arg: unknown, options: Record<string, unknown> } {
  const checked: Record<string, unknown> = { ...options }
  for (const [key, check] of Object.entries(c.options) as Array<[string, Check<unknown>]>) {
    const value = check(options[key], key)
    if (value === undefined) delete checked[key]
    else checked[key] = value
  }
  return { arg: c.arg != null ? text(arg, c.arg) : arg, options: checked }
}
