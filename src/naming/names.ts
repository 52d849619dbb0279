/**
 * The names room's implementation (index.ts states its interface): keys, the records held, the
 * names topic, the DHT, republishing and the follower, started and stopped together.
 */
import path from 'node:path'
import { pushable } from 'it-pushable'
import { WATCH_BUFFER } from '../constants.js'
import { CONFIG_DEFAULTS } from '../defaults.js'
import { NameNotFoundError } from '../errors.js'
import { newestInDht, putInDht } from './dht.js'
import { Follower } from './follow.js'
import { Keychain, SELF } from './keys.js'
import { RecordStore } from './record-store.js'
import { Sequences } from './sequences.js'
import { checkRecord, infoOf, isNewer, nameOfKey, parseName, recordValue, signRecord, validUntil } from './records.js'
import type { FollowerComponents, Version } from './follow.js'
import type { NameGossip, NameGossipStats } from './gossip.js'
import type { NameNeighbours } from './neighbours.js'
import type { Names, NamesComponents, NamesInit, NamesNetwork, NameUpdate, PublishedName, PublishNameOptions, ResolvedName } from './index.js'
import type { IpnsName } from './records.js'
import type { Logger } from '@libp2p/interface'
import type { Pushable } from 'it-pushable'
import type { IPNSRecord } from 'ipns'

const second = 1000
/**
 * After start, followed names not yet heard of on gossip are looked up again this long after (the
 * DHT fills as peers connect)
 */
const CATCH_UP = [2 * second, 10 * second, 30 * second]
/** How often followed names are checked for a TTL passed, and the shortest TTL a poll keeps to */
const POLL_TICK = second
const MIN_POLL = second


export class NamesRoom implements Names {
  readonly keys: Keychain
  readonly follower: Follower
  private readonly components: NamesComponents
  private readonly records: RecordStore
  private readonly sequences: Sequences
  private readonly init: Required<Omit<NamesInit, 'follow' | 'keepVersions' | 'fsync'>>
  private network?: NamesNetwork & { gossip?: NameGossip, neighbours: NameNeighbours, log: Logger }
  /** When each name was last heard of from the swarm (or published), ms since the epoch */
  private readonly checked = new Map<string, number>()
  /**
   * Names a new record came in for on gossip since start: gossip reaches this peer, so they are
   * left to it and to the poll once their TTL has passed, not caught up with again
   */
  private readonly heard = new Set<string>()
  private readonly lookups = new Map<string, Promise<void>>()
  /** Own names: the publish signing a record of each, and the publishes not yet answered */
  private readonly turns = new Map<string, Promise<void>>()
  private readonly publishing = new Set<Promise<void>>()
  private readonly listeners = new Set<(u: NameUpdate) => void>()
  private readonly watchers = new Set<Pushable<NameUpdate>>()
  private timer?: ReturnType<typeof setInterval>
  private poll?: ReturnType<typeof setInterval>
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly background = new Set<Promise<unknown>>()
  private stopping = new AbortController()

  constructor (components: NamesComponents, init: NamesInit = {}) {
    this.components = components
    const defaults = CONFIG_DEFAULTS.names
    this.init = {
      lifetimeMs: init.lifetimeMs ?? defaults.lifetimeMs,
      ttlMs: init.ttlMs ?? defaults.ttlMs,
      republishIntervalMs: init.republishIntervalMs ?? defaults.republishIntervalMs,
      gossip: init.gossip ?? defaults.gossip
    }
    this.keys = new Keychain({ dir: path.join(components.root, 'keys'), self: components.self })
    this.records = new RecordStore(path.join(components.root, 'names', 'records'), { fsync: init.fsync })
    this.sequences = new Sequences(path.join(components.root, 'names', 'sequences'), { fsync: init.fsync })
    this.follower = new Follower({
      file: path.join(components.root, 'names', 'follow.json'),
      fetch: components.fetch,
      pins: components.pins,
      unpin: components.unpin,
      log: (...args: [string, ...unknown[]]) => { this.log()?.(...args) },
      onVersion: (name, v) => { this.log()?.('%s is now sequence %d (%s)', name, v.sequence, v.cid) }
    } as FollowerComponents, {
      follow: init.follow ?? CONFIG_DEFAULTS.replicate.follow,
      keepVersions: init.keepVersions ?? CONFIG_DEFAULTS.replicate.keepVersions
    })
  }

  private log (): Logger | undefined {
    return this.network?.log ?? this.components.log()
  }

  async start (network: NamesNetwork): Promise<void> {
    if (this.network != null) return
    await this.follower.load()
    this.follower.start()
    this.heard.clear()
    this.stopping = new AbortController()
    const log = network.logger.forComponent('shoal:names')
    // gossipsub's code is loaded by a peer going online only
    const [{ NameGossip }, { NameNeighbours }] = await Promise.all([import('./gossip.js'), import('./neighbours.js')])
    const gossip = this.init.gossip
      ? new NameGossip({
        pubsub: network.pubsub,
        records: this.records,
        log,
        onRecord: (name, record, from) => { this.updated(name, record, 'gossip', from.toString()) }
      }, network.swarm)
      : undefined
    const neighbours = new NameNeighbours({ host: network.host, records: this.records, log })
    await neighbours.start()
    this.network = { ...network, gossip, neighbours, log }
    gossip?.start()
    // records published while offline go out now; followed names catch up with what was
    // published while this peer was away
    this.spawn(this.republish())
    // own names' sequences reserved ahead now: their next publish goes out without a disk write
    this.spawn(this.keys.list().then(async (keys) => {
      await Promise.all(keys.filter(k => k.id !== '').map(async (k) => { await this.sequences.prepare(parseName(k.id).name) }))
    }))
    for (const f of this.follower.list()) {
      const held = await this.records.get(f.name)
      if (held != null) this.follower.offer(f.name, infoOf(parseName(f.name), held.record))
    }
    this.catchUp()
    // asked again while the peer finds its neighbours and the DHT fills (each lookup takes the
    // newest record any of them holds)
    for (const delay of CATCH_UP) {
      const t = setTimeout(() => { this.timers.delete(t); this.catchUp() }, delay)
      this.timers.add(t)
    }
    this.timer = setInterval(() => { this.spawn(this.republish()) }, this.init.republishIntervalMs)
    this.poll = setInterval(() => { this.spawn(this.pollFollowed()) }, POLL_TICK)
  }

  async stop (): Promise<void> {
    if (this.network == null) return
    clearInterval(this.timer)
    clearInterval(this.poll)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.stopping.abort()
    this.follower.stop()
    this.network.gossip?.stop()
    await this.network.neighbours.stop().catch(() => {})
    for (const w of this.watchers) w.end()
    await Promise.allSettled([...this.background])
    // every record signed here is written (or failed to be): the reservations go back to the
    // next sequence, so a clean restart goes on from it (a crash leaves them ahead)
    await Promise.allSettled([...this.turns.values(), ...this.publishing])
    await Promise.allSettled(this.sequences.loaded().map(async (n) => { await this.sequences.release(n) }))
    await this.follower.idle()
    this.network = undefined
  }

  /**
   * Followed names whose record was last heard of more than its TTL ago are looked up in the
   * DHT: what gossip missed (a partition, a peer not in the mesh) arrives at most a TTL late
   */
  private async pollFollowed (): Promise<void> {
    const now = Date.now()
    for (const f of this.follower.list()) {
      const name = parseName(f.name)
      const held = await this.records.get(name.name)
      const ttl = Math.max(MIN_POLL, held != null ? infoOf(name, held.record).ttlMs : this.init.ttlMs)
      if (now - (this.checked.get(name.name) ?? 0) >= ttl && !this.lookups.has(name.name)) this.spawn(this.lookup(name))
    }
  }

  /**
   * Ask the DHT and the neighbours for the newest record of every followed name not yet heard of
   * on gossip. A name that was is caught up (a gossip record is the newest one published): asking
   * again only loaded every peer at once (mirrors started together run their catch-ups together)
   * at the moment a new version was likely to be on its way (docs/names.md)
   */
  private catchUp (): void {
    if (this.network == null) return
    for (const f of this.follower.list()) {
      if (!this.heard.has(f.name)) this.spawn(this.lookup(parseName(f.name)))
    }
  }

  private spawn (p: Promise<unknown>): void {
    const q = p.catch((err) => { this.log()?.('%s', err.message) }).finally(() => { this.background.delete(q) })
    this.background.add(q)
  }

  async publish (value: string, options: PublishNameOptions = {}): Promise<PublishedName> {
    const started = Date.now()
    const key = await this.keys.get(options.key ?? SELF)
    const name = nameOfKey(key)
    const network = this.network
    // one record of a name signed at a time: each takes the sequence after the last
    const { record, bytes, written } = await this.inTurn(name.name, async () => {
      const held = await this.records.get(name.name)
      const sequence = await this.sequences.next(name.name, held?.record.sequence)
      const bytes = await signRecord(key, recordValue(value), sequence, {
        lifetimeMs: options.lifetimeMs ?? this.init.lifetimeMs,
        ttlMs: options.ttlMs ?? this.init.ttlMs
      })
      // checked as every receiver will check it
      const record = await checkRecord(name, bytes, held?.record)
      // online, the record goes out before its file is written (the write waits for the disk's
      // other writers: 50-300 ms on the publisher in bench/names --lab, docs/names.md): its
      // sequence is reserved on disk first, so a crash before the write never signs another
      // record with it. Offline nothing goes out, and the file is written before the answer
      if (network != null) await this.sequences.reserve(name.name, sequence)
      const { written } = await this.records.take(name.name, bytes, record)
      return { record, bytes, written }
    })
    if (network == null) await written
    this.updated(name, record, 'publish')
    const result: PublishedName = infoOf(name, record)
    if (network != null) {
      const publishing = (async () => {
        await Promise.all([(async () => {
          result.gossiped = await network.gossip?.push(name, bytes) ?? 0
          network.log('%s sequence %d pushed on gossip to %d peers %d ms after the publish began', name.name, Number(record.sequence), result.gossiped, Date.now() - started)
          // the DHT is the fallback for peers that were away: it follows gossip
          result.dhtPeers = await this.put(name, bytes, options.signal)
        })(), written])
        network.log('%s sequence %d written and put in the DHT (%d peers) %d ms after the publish began', name.name, Number(record.sequence), result.dhtPeers, Date.now() - started)
      })()
      this.publishing.add(publishing)
      try {
        await publishing
      } finally {
        this.publishing.delete(publishing)
      }
    }
    return result
  }

  /** Run `fn` after every earlier call for `name` has settled */
  private async inTurn<T> (name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(name) ?? Promise.resolve()
    const next = previous.then(fn)
    const tail = next.then(() => {}, () => {})
    this.turns.set(name, tail)
    void tail.then(() => { if (this.turns.get(name) === tail) this.turns.delete(name) })
    return next
  }

  async resolve (input: string, options: { signal?: AbortSignal } = {}): Promise<ResolvedName> {
    const name = parseName(input)
    const held = await this.valid(name)
    const fresh = held != null && Date.now() - (this.checked.get(name.name) ?? 0) < infoOf(name, held).ttlMs
    if (this.network != null && !fresh) await this.lookup(name, options.signal)
    const newest = await this.valid(name)
    if (newest == null) {
      throw new NameNotFoundError(`no valid record of ${name.name} was found${this.network != null ? ' here, on gossip or in the DHT' : ' in this repo (start the daemon to look in the swarm)'}`)
    }
    return { ...infoOf(name, newest), record: (await this.records.get(name.name))?.bytes as Uint8Array }
  }

  async current (input: string, options: { signal?: AbortSignal } = {}): Promise<ResolvedName> {
    const name = parseName(input)
    const version: Version | undefined = this.follower.current(name.name)
    if (version != null) {
      // a followed name is kept fresh by gossip and by the follower's lookups once its TTL has
      // passed (pollFollowed): a reader never waits for a lookup (up to the DHT's 10 s), it is
      // served the version held and the lookup, if one is due, runs beside it
      const held = await this.valid(name)
      if (held != null && held.sequence >= BigInt(version.sequence)) {
        const stale = Date.now() - (this.checked.get(name.name) ?? 0) >= infoOf(name, held).ttlMs
        if (stale && this.network != null) this.spawn(this.lookup(name))
        const info = infoOf(name, held)
        const record = (await this.records.get(name.name))?.bytes as Uint8Array
        return info.sequence === version.sequence ? { ...info, record } : { ...info, value: version.value, sequence: version.sequence, record }
      }
    }
    const resolved = await this.resolve(name.name, options).catch((err) => {
      if (version == null) throw err
      return undefined
    })
    if (version == null || resolved == null) return resolved as ResolvedName
    // the record may be newer than the version fetched so far: the version is served meanwhile
    return resolved.sequence === version.sequence ? resolved : { ...resolved, value: version.value, sequence: version.sequence }
  }

  listen (fn: (update: NameUpdate) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  async * watch (signal?: AbortSignal): AsyncGenerator<NameUpdate> {
    const queue = pushable<NameUpdate>({ objectMode: true })
    const off = this.listen((u) => {
      // a reader that falls behind loses the oldest news, not the daemon its memory
      if (queue.readableLength < WATCH_BUFFER) queue.push(u)
    })
    const onAbort = (): void => { queue.end() }
    signal?.addEventListener('abort', onAbort, { once: true })
    this.watchers.add(queue)
    try {
      yield * queue
    } finally {
      off()
      this.watchers.delete(queue)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  stats (): NameGossipStats {
    return this.network?.gossip?.stats() ?? { received: 0, rejected: 0, ignored: 0 }
  }

  /** The held record of a name, if it has not expired */
  private async valid (name: IpnsName): Promise<IPNSRecord | undefined> {
    const held = await this.records.get(name.name)
    return held != null && validUntil(held.record) > Date.now() ? held.record : undefined
  }

  /** `author`: the peer that signed the gossip message that brought the record (its publisher) */
  private updated (name: IpnsName, record: IPNSRecord, source: NameUpdate['source'], author?: string): void {
    this.checked.set(name.name, Date.now())
    if (source === 'gossip') this.heard.add(name.name)
    const info = infoOf(name, record)
    this.follower.offer(name.name, info, author)
    for (const fn of this.listeners) fn({ ...info, source, time: Date.now() })
  }

  /** Ask the DHT for the newest record of a name and keep it if newer; one lookup per name at a time */
  private async lookup (name: IpnsName, signal?: AbortSignal): Promise<void> {
    const running = this.lookups.get(name.name)
    if (running != null) return running
    const p = this.ask(name, signal).finally(() => { this.lookups.delete(name.name) })
    this.lookups.set(name.name, p)
    return p
  }

  private async ask (name: IpnsName, signal?: AbortSignal): Promise<void> {
    const network = this.network
    if (network == null) return
    const held = await this.records.get(name.name)
    const take = async (found: { record: IPNSRecord, bytes: Uint8Array }, source: NameUpdate['source']): Promise<void> => {
      // acted on once held, as a record from gossip is (gossip.ts)
      const { kept, written } = await this.records.take(name.name, found.bytes, found.record)
      if (kept) this.updated(name, found.record, source)
      await written
    }
    // neighbours answer in a round trip: what they hold is taken as it comes, and the DHT's
    // newest after it, if newer still
    const signals = this.signals(signal)
    const taking: Array<Promise<void>> = []
    const [, best] = await Promise.all([
      network.neighbours.ask(name, held?.record, AbortSignal.any(signals), (found) => { taking.push(take(found, 'neighbour')) }),
      newestInDht(name, { dht: network.dht, log: network.log, signals })
    ])
    await Promise.all(taking)
    this.checked.set(name.name, Date.now())
    if (best != null && isNewer(best.record, held?.record)) await take(best, 'dht')
  }

  /** Put a record in the DHT; resolves with how many peers took it */
  private async put (name: IpnsName, bytes: Uint8Array, signal?: AbortSignal): Promise<number> {
    const network = this.network
    if (network == null) return 0
    return putInDht(name, bytes, { dht: network.dht, log: network.log, signals: this.signals(signal) })
  }

  /** The caller's signal, if any, and the one that aborts when the names stop */
  private signals (signal?: AbortSignal): AbortSignal[] {
    return [this.stopping.signal, ...(signal != null ? [signal] : [])]
  }

  /**
   * Own records out again, at start (records published while offline go out then) and every
   * republish interval: pushed on gossip and put in the DHT, each signed anew with a fresh
   * lifetime once half of it is gone
   */
  private async republish (): Promise<void> {
    for (const k of await this.keys.list()) {
      if (this.network == null || k.id === '') return
      const name = parseName(k.id)
      const held = await this.records.get(name.name)
      if (held == null) continue
      let bytes = held.bytes
      const left = validUntil(held.record) - Date.now()
      if (left < this.init.lifetimeMs / 2) {
        // the same sequence, valid for longer: selectors prefer it, followers fetch nothing
        const key = await this.keys.get(k.name)
        const ttlMs = infoOf(name, held.record).ttlMs
        bytes = await signRecord(key, held.record.value, held.record.sequence, { lifetimeMs: this.init.lifetimeMs, ttlMs })
        await this.records.put(name.name, bytes)
      }
      await this.network.gossip?.push(name, bytes).catch(() => 0)
      await this.put(name, bytes)
    }
  }
}
