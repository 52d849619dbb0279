/**
 * The one pull-through reader: the blocks of a DAG from the store, and the missing ones from the
 * swarm through a fetch session the reader waits on, so content streams while it arrives; fetched
 * blocks are stored (unpinned) for the next reader. The gateway reads each request through one,
 * and so do an online peer's `cat`, `get` and `export`.
 */
import * as dagPb from '@ipld/dag-pb'
import { identity } from 'multiformats/hashes/identity'
import { GatewayTimeoutError } from '../errors.js'
import type { CID } from 'multiformats/cid'

/** The store operations a reader reads through */
export interface PullThroughBlocks {
  /** Throws an error named BlockNotFoundError when the block is not stored */
  getBytes(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
  /**
   * Bytes `offset` to `offset + length` of a stored block (fewer past its end), without reading
   * the rest, into `into` when given (a view of it is returned); throws like `getBytes`. Without
   * it, ranges read whole blocks
   */
  readRange?(cid: CID, offset: number, length: number, options?: { signal?: AbortSignal, into?: Uint8Array }): Promise<Uint8Array>
  /** Mark a block as just used, for least-recently-used eviction */
  touch?(cid: CID): Promise<void>
}

/** How missing blocks are fetched: a session for a DAG (or, with `walk: false`, one block) */
export interface PullThroughFetcher {
  fetch(root: CID, options?: { signal?: AbortSignal, walk?: boolean }): { blockReady(cid: CID): Promise<void> }
}

/**
 * A pool of buffers of `size` bytes that range reads go into, carried for the reader's range
 * readers (the gateway's ReadBuffers): a buffer is taken, written out in slices, and given back
 */
export interface RangeBuffers {
  readonly size: number
  take(): Uint8Array
  slices(piece: Uint8Array): Uint8Array[]
  give(view: Uint8Array): void
}

export interface PullThroughComponents {
  blocks: PullThroughBlocks
  /** Absent when the peer is offline: a miss then fails (or, with a timeout, times out) */
  exchange?: PullThroughFetcher
  /** Runs `fn` while gc waits: each fetch of a missing block and its first read (fetched blocks are not pinned) */
  withWriteGuard?<T>(fn: () => Promise<T>): Promise<T>
}

export interface PullThroughInit {
  /** The root the request names: whole-DAG fetches start there */
  root: CID
  /**
   * `dag`: a missing block starts one fetch session for the whole DAG under `root`, which then
   * streams ahead of the reader (whole files, listings, CARs). `block`: each missing block is
   * fetched on its own and nothing else (range requests read only the blocks they need).
   */
  mode: 'dag' | 'block'
  /**
   * Longest wait for any one block, trying again while no peer can serve it (a peer may connect)
   * until a GatewayTimeoutError. Without it a read waits as long as its fetch runs, and fails
   * with the fetch's error.
   */
  timeoutMs?: number
  signal?: AbortSignal
  /** Interior blocks shared between readers */
  cache?: BlockCache
  /** Buffers ranges are read into, shared between readers */
  buffers?: RangeBuffers
  /** Each block read: from the store (`hit`) or fetched */
  onBlock?(hit: boolean): void
  /** Mark each block read as used (with a store quota, what is read is what is used) */
  touch?: boolean
  /** Called on close when the reader fetched anything: the store has grown */
  onFetched?(): void
}

/**
 * Recently read interior (dag-pb) blocks: every request for a file reads its root, and a range
 * request reads little else, so keeping roots in memory halves its reads. Blocks never change,
 * so a cached block is always right; leaves are not cached (they are large and read once).
 */
export class BlockCache {
  private readonly blocks = new Map<string, Uint8Array>()
  private bytes = 0
  constructor (private readonly maxBytes: number) {}

  get (cid: CID): Uint8Array | undefined {
    const key = Buffer.from(cid.multihash.bytes).toString('base64')
    const bytes = this.blocks.get(key)
    if (bytes != null) {
      // most recently used last
      this.blocks.delete(key)
      this.blocks.set(key, bytes)
    }
    return bytes
  }

  add (cid: CID, bytes: Uint8Array): void {
    if (cid.code !== dagPb.code || bytes.byteLength > this.maxBytes / 16) return
    const key = Buffer.from(cid.multihash.bytes).toString('base64')
    if (this.blocks.has(key)) return
    this.blocks.set(key, bytes)
    this.bytes += bytes.byteLength
    for (const [k, b] of this.blocks) {
      if (this.bytes <= this.maxBytes) break
      this.blocks.delete(k)
      this.bytes -= b.byteLength
    }
  }
}

/** Wait between attempts while no peer can serve a block yet */
const RETRY_DELAY = 250

/**
 * The blocks one reader reads: from the store, and on a miss from the swarm. `close` once done,
 * early or not: a reader that stops early does not leave a fetch running.
 */
export class PullThrough {
  private readonly components: PullThroughComponents
  private readonly init: PullThroughInit
  private readonly controller = new AbortController()
  private dagSession?: ReturnType<PullThroughFetcher['fetch']>
  /** Whether a fetch was started, which `close` must stop */
  private fetched = false
  private readonly onAbort = (): void => { this.controller.abort(this.init.signal?.reason) }

  constructor (components: PullThroughComponents, init: PullThroughInit) {
    this.components = components
    this.init = init
    if (init.signal?.aborted === true) this.onAbort()
    else init.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /** Stop any fetch this reader started */
  close (): void {
    this.init.signal?.removeEventListener('abort', this.onAbort)
    // most readers read only stored blocks: an abort (and the error it makes) is for those that fetched
    if (this.fetched) {
      this.controller.abort()
      this.init.onFetched?.()
    }
  }

  /** The shape ipfs-unixfs-exporter reads blocks through */
  get blockstore (): any {
    return {
      get: async function * (this: PullThrough, cid: CID, options?: { signal?: AbortSignal }) {
        yield await this.getBytes(cid, options)
      }.bind(this)
    }
  }

  async getBytes (cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array> {
    if (cid.multihash.code === identity.code) return cid.multihash.digest
    const cached = this.init.cache?.get(cid)
    if (cached != null) {
      this.init.onBlock?.(true)
      return cached
    }
    const store = this.components.blocks
    let bytes: Uint8Array
    try {
      // no existence check first: a hit costs one read
      bytes = await store.getBytes(cid)
      this.init.onBlock?.(true)
    } catch (err: any) {
      if (err.name !== 'BlockNotFoundError') throw err
      this.init.onBlock?.(false)
      bytes = await this.retrieve(cid, async () => store.getBytes(cid, options))
    }
    this.init.cache?.add(cid, bytes)
    this.touch(cid)
    return bytes
  }

  /** Buffers ranges are read into, when the gateway shares a pool */
  get buffers (): RangeBuffers | undefined {
    return this.init.buffers
  }

  /** Part of a block: of a raw leaf, only those bytes are read from the store (into `into` when given) */
  async readRange (cid: CID, offset: number, length: number, options?: { signal?: AbortSignal, into?: Uint8Array }): Promise<Uint8Array> {
    const read = this.components.blocks.readRange
    if (cid.multihash.code === identity.code || read == null) {
      return (await this.getBytes(cid, options)).subarray(offset, offset + length)
    }
    try {
      const bytes = await read.call(this.components.blocks, cid, offset, length, options)
      this.init.onBlock?.(true)
      this.touch(cid)
      return bytes
    } catch (err: any) {
      if (err.name !== 'BlockNotFoundError') throw err
      this.init.onBlock?.(false)
      const bytes = await this.retrieve(cid, async () => read.call(this.components.blocks, cid, offset, length, options))
      this.touch(cid)
      return bytes
    }
  }

  private touch (cid: CID): void {
    if (this.init.touch === true) void this.components.blocks.touch?.(cid).catch(() => {})
  }

  /**
   * Fetch a missing block and read it. Runs while gc waits (the block is not pinned), but only
   * for this, so a long download never holds gc, nor the requests queued behind a waiting gc.
   * A block that is gone again when read (gc ran between the fetch and the read) is fetched again,
   * on its own.
   */
  private async retrieve<T> (cid: CID, read: () => Promise<T>): Promise<T> {
    const guard = this.components.withWriteGuard ?? (async <R>(fn: () => Promise<R>): Promise<R> => fn())
    this.fetched = true
    return guard(async () => {
      const exchange = this.components.exchange
      const timeoutMs = this.init.timeoutMs
      const deadline = timeoutMs != null ? Date.now() + timeoutMs : Infinity
      const timeout = (): GatewayTimeoutError => new GatewayTimeoutError(`block ${cid}`, timeoutMs ?? 0)
      let single = this.init.mode === 'block'
      while (true) {
        this.controller.signal.throwIfAborted()
        const left = deadline - Date.now()
        if (exchange == null && timeoutMs == null) return await read()
        if (left <= 0 || exchange == null) throw timeout()
        const attempt = new AbortController()
        const abortAttempt = (): void => { attempt.abort(this.controller.signal.reason) }
        this.controller.signal.addEventListener('abort', abortAttempt, { once: true })
        const timer = Number.isFinite(left) ? setTimeout(() => { attempt.abort(timeout()) }, left) : undefined
        let ready = false
        const perBlock = single
        try {
          let session
          if (!perBlock) {
            this.dagSession ??= exchange.fetch(this.init.root, { signal: this.controller.signal })
            session = this.dagSession
          } else {
            session = exchange.fetch(cid, { signal: attempt.signal, walk: false })
          }
          await Promise.race([
            session.blockReady(cid),
            new Promise((_resolve, reject) => {
              attempt.signal.addEventListener('abort', () => { reject(attempt.signal.reason) }, { once: true })
            })
          ])
          ready = true
          return await read()
        } catch (err: any) {
          if (this.controller.signal.aborted) throw this.controller.signal.reason ?? err
          if (err instanceof GatewayTimeoutError) throw err
          if (ready && err.name === 'BlockNotFoundError') {
            // fetched, then removed before it was read: fetch it again, alone, at once
            single = true
            continue
          }
          // no peer could serve it: without a deadline that is the answer; with one, a peer may
          // connect, so try again until the deadline
          if (timeoutMs == null) throw err
          this.dagSession = undefined
          await new Promise(resolve => setTimeout(resolve, Math.min(RETRY_DELAY, Math.max(0, deadline - Date.now()))))
        } finally {
          clearTimeout(timer)
          this.controller.signal.removeEventListener('abort', abortAttempt)
          // a single-block fetch (which walks no links) ends once its block is stored
          if (perBlock) attempt.abort()
        }
      }
    })
  }
}
