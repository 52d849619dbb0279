/**
 * The datastore libp2p is given: files on disk, with the peer store's records and the DHT's
 * provider records kept in memory and written out in the background.
 *
 * libp2p merges the protocol into the remote peer's record each time a stream is opened, at both
 * ends, and a record it saves always differs from the one before (it carries the time of the
 * save), so on a plain file datastore every stream cost a file read and an atomic file write at
 * each end, in series per peer, all on libuv's four threads. Opening a stream to a busy peer then
 * waited behind every other stream's writes (seconds on a loaded machine; issue 20). A DHT server
 * writes a file for every provider record it is given (a root provided to 20 servers is 20
 * writes; at 30 hosts in one process, ~80-100 per replicated file, 0.2-1 s each behind one
 * another), and reads them all back at every lookup of that root.
 *
 * Here a record is read from disk once, kept, and written back at most once per `flushMs` and
 * when the host stops; a crash loses at most that much of the peer store's news and of the
 * provider records received (providers provide again: kad-dht's reprovider, and shoal's at every
 * fetch and pin). Other keys (DHT value records) go to disk as they come. Seen from outside, it
 * answers as the file datastore does: values are copies, a query lists the records not yet
 * written, a delete is final.
 */
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import type { AbortOptions, Startable } from '@libp2p/interface'
import type { KeyQuery, Pair, Query } from 'interface-datastore'

const minute = 60_000
/**
 * How often new peer records go to disk. Nearly every record a host holds changes between two
 * flushes (each stream opened stamps its peer's record), so a flush writes one file per peer
 * known: once in 5 minutes a host's records are news enough for the next run
 */
const FLUSH_INTERVAL = 5 * minute
/** Records kept in memory at most; past that, those already on disk are dropped */
const MAX_CACHED = 10_000
/** libp2p's peer store keeps each peer's record under this namespace */
const PEERS = '/peers/'
/** kad-dht keeps provider records under this one (`/dht/provider/<multihash>/<peer id>`) */
const PROVIDERS = '/dht/provider/'

/** Whether a key is kept in memory */
function kept (k: string): boolean {
  return k.startsWith(PEERS) || k.startsWith(PROVIDERS)
}

export interface PeerRecordDatastoreInit {
  /**
   * How often records changed since the last flush are written
   * @default 5 minutes
   */
  flushMs?: number
}

export class PeerRecordDatastore extends FsDatastore {
  /** key → record; the ones not yet on disk are in `dirty` */
  private readonly cache = new Map<string, Uint8Array>()
  private readonly dirty = new Set<string>()
  /** Counts deletes of peer records, so a read from disk that a delete overtook is not cached */
  private deletes = 0
  private timer?: ReturnType<typeof setTimeout>
  /** Disk work on peer records (flushes, deletes), one after another; never rejects */
  private queue: Promise<void> = Promise.resolve()
  private readonly flushMs: number

  constructor (location: string, init: PeerRecordDatastoreInit = {}) {
    super(location)
    this.flushMs = init.flushMs ?? FLUSH_INTERVAL
  }

  /**
   * Write new records every `flushMs` from now on, the first time at a random point of the first
   * interval: hosts started together (a test swarm, a bench in one process) do not all flush at
   * once on the same thread pool
   */
  startFlushing (): void {
    if (this.timer != null) return
    const tick = (ms: number): void => {
      this.timer = setTimeout(() => {
        this.flush().catch(() => {})
        tick(this.flushMs)
      }, ms)
      // the host's stop writes what is left; a forgotten host does not keep the process alive
      this.timer.unref()
    }
    tick(Math.random() * this.flushMs)
  }

  /** Stop the timer and write what is left */
  async stopFlushing (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.flush()
  }

  override async close (): Promise<void> {
    await this.stopFlushing()
    await super.close()
  }

  /**
   * Write the records changed since the last flush. A record that fails to write stays due for
   * the next flush, and the first error is thrown once the others are written
   */
  async flush (): Promise<void> {
    await this.enqueue(async () => {
      let failure: unknown
      for (const k of [...this.dirty]) {
        const value = this.cache.get(k)
        this.dirty.delete(k)
        if (value == null) continue
        try {
          await super.put(new Key(k), value)
        } catch (err) {
          // unless a newer put or a delete came meanwhile, it is still due
          if (this.cache.get(k) === value) this.dirty.add(k)
          failure ??= err
        }
      }
      if (failure != null) throw failure
    })
  }

  override async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const k = key.toString()
    if (!kept(k)) return await super.put(key, value, options)
    options?.signal?.throwIfAborted()
    // a file datastore keeps what it was given when put: the caller's buffer is its own again
    this.cache.set(k, value.slice())
    this.dirty.add(k)
    this.trim()
    return key
  }

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    const cached = this.cache.get(k)
    // a copy, as a file read gives: what the caller does with it stays out of the cache
    if (cached != null) return cached.slice()
    if (!kept(k)) return await super.get(key, options)
    const deletes = this.deletes
    const value = await super.get(key, options)
    // a put or a delete that came while the file was read is newer than the file
    if (!this.cache.has(k) && deletes === this.deletes) {
      this.cache.set(k, value.slice())
      this.trim()
    }
    return value
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    return this.cache.has(key.toString()) || await super.has(key, options)
  }

  override async delete (key: Key, options?: AbortOptions): Promise<void> {
    const k = key.toString()
    if (!kept(k)) return await super.delete(key, options)
    this.cache.delete(k)
    this.dirty.delete(k)
    this.deletes++
    // the record may be on disk from an earlier flush or run, or on its way there: the delete
    // follows any flush under way
    await this.enqueue(async () => { await super.delete(key, options) })
  }

  // FsDatastore's own batch methods write files directly; records go through the cache
  override async * putMany (source: Iterable<Pair> | AsyncIterable<Pair>, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const { key, value } of source) yield await this.put(key, value, options)
  }

  override async * getMany (source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const key of source) yield { key, value: await this.get(key, options) }
  }

  override async * deleteMany (source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const key of source) {
      await this.delete(key, options)
      yield key
    }
  }

  /**
   * A query over the files sees the records kept in memory. One that may list peer records writes
   * them first (the peer store's queries are rare); one of provider records (made at every
   * provider lookup) does not wait: it lists the records in memory, then the files of those that
   * are not. A query of neither reads the files only.
   */
  override async * _all (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    if (covers(q.prefix, PEERS)) await this.flush()
    else if (covers(q.prefix, PROVIDERS)) {
      const listed = new Set<string>()
      for (const [k, value] of this.providersIn(q.prefix)) {
        listed.add(k)
        yield { key: new Key(k), value: value.slice() }
      }
      for await (const pair of super._all(q, options)) {
        if (!listed.has(pair.key.toString())) yield pair
      }
      return
    }
    yield * super._all(q, options)
  }

  override async * _allKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    if (covers(q.prefix, PEERS)) await this.flush()
    else if (covers(q.prefix, PROVIDERS)) {
      const listed = new Set<string>()
      for (const [k] of this.providersIn(q.prefix)) {
        listed.add(k)
        yield new Key(k)
      }
      for await (const key of super._allKeys(q, options)) {
        if (!listed.has(key.toString())) yield key
      }
      return
    }
    yield * super._allKeys(q, options)
  }

  /** The provider records in memory under a prefix, taken at once */
  private providersIn (prefix: string | undefined): Array<[string, Uint8Array]> {
    const p = prefix ?? ''
    return [...this.cache].filter(([k]) => k.startsWith(PROVIDERS) && k.startsWith(p))
  }

  private async enqueue (work: () => Promise<void>): Promise<void> {
    const done = this.queue.then(work)
    this.queue = done.catch(() => {})
    await done
  }

  /** Drop records already on disk when too many are kept */
  private trim (): void {
    if (this.cache.size <= MAX_CACHED) return
    for (const k of this.cache.keys()) {
      if (this.cache.size <= MAX_CACHED / 2) break
      if (!this.dirty.has(k)) this.cache.delete(k)
    }
  }
}

/**
 * The flushing as a libp2p service: started with the host, and what is left written once every
 * other part has stopped. libp2p runs the lifecycle of a service only if it has both `start` and
 * `stop` (`isStartable`): without `stop`, neither the timer nor the last flush would run
 */
export function peerRecordFlushing (datastore: PeerRecordDatastore): () => Startable {
  return () => ({
    start: () => { datastore.startFlushing() },
    stop: () => {},
    afterStop: async () => { await datastore.stopFlushing() }
  })
}

/** Whether a query with this prefix may list keys of this namespace */
function covers (prefix: string | undefined, namespace: string): boolean {
  const p = prefix ?? ''
  return namespace.startsWith(p) || p.startsWith(namespace.slice(0, -1))
}
