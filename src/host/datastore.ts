/**
 * The datastore libp2p is given: files on disk, with the peer store's records kept in memory and
 * written out in the background.
 *
 * libp2p merges the protocol into the remote peer's record each time a stream is opened, at both
 * ends, and a record it saves always differs from the one before (it carries the time of the
 * save), so on a plain file datastore every stream cost a file read and an atomic file write at
 * each end, in series per peer, all on libuv's four threads. Opening a stream to a busy peer then
 * waited behind every other stream's writes (seconds on a loaded machine; issue 20). Here a
 * record is read from disk once, kept, and written back at most once per `flushMs` and at close;
 * a crash loses at most that much of the peer store's news. Other keys (DHT records) go to disk
 * as they come.
 */
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'
import type { KeyQuery, Pair, Query } from 'interface-datastore'

const second = 1000
/** How often new peer records go to disk */
const FLUSH_INTERVAL = 30 * second
/** Records kept in memory at most; past that, those already on disk are dropped */
const MAX_CACHED = 10_000
const PEERS = '/peers/'

export class PeerRecordDatastore extends FsDatastore {
  /** key → record; the ones not yet on disk are in `dirty` */
  private readonly cache = new Map<string, Uint8Array>()
  private readonly dirty = new Set<string>()
  private timer?: ReturnType<typeof setInterval>
  private flushing: Promise<void> = Promise.resolve()
  private readonly flushMs: number

  constructor (location: string, init: { flushMs?: number } = {}) {
    super(location)
    this.flushMs = init.flushMs ?? FLUSH_INTERVAL
  }

  /** Write new records every `flushMs` from now on (the host starts this with libp2p) */
  startFlushing (): void {
    this.timer ??= setInterval(() => { void this.flush().catch(() => {}) }, this.flushMs)
  }

  /** Stop the timer and write what is left (once libp2p has stopped) */
  async stopFlushing (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  override async close (): Promise<void> {
    await this.stopFlushing()
    await super.close()
  }

  /** Write the records changed since the last flush; flushes run one after another */
  async flush (): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      for (const k of [...this.dirty]) {
        const value = this.cache.get(k)
        this.dirty.delete(k)
        if (value != null) await super.put(new Key(k), value)
      }
    })
    await this.flushing
  }

  override async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const k = key.toString()
    if (!k.startsWith(PEERS)) return await super.put(key, value, options)
    this.cache.set(k, value)
    this.dirty.add(k)
    this.trim()
    return key
  }

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    const cached = this.cache.get(k)
    if (cached != null) return cached
    const value = await super.get(key, options)
    if (k.startsWith(PEERS) && !this.cache.has(k)) {
      this.cache.set(k, value)
      this.trim()
    }
    return value
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    return this.cache.has(key.toString()) || await super.has(key, options)
  }

  override async delete (key: Key, options?: AbortOptions): Promise<void> {
    const k = key.toString()
    this.cache.delete(k)
    this.dirty.delete(k)
    // the record may be on disk from an earlier flush or run
    await super.delete(key, options)
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

  /** A query over the files sees the records kept in memory: they are written first */
  override async * _all (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    await this.flush()
    yield * super._all(q, options)
  }

  override async * _allKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    await this.flush()
    yield * super._allKeys(q, options)
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
