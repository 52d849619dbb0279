import * as dagPb from '@ipld/dag-pb'
import { identity } from 'multiformats/hashes/identity'
import { GatewayTimeoutError } from '../errors.js'
import type { ReadBuffers } from './buffers.js'
import type { GatewayComponents } from './index.js'
import type { CID } from 'multiformats/cid'

export interface RequestBlocksInit {
  /** The root the request names: whole-DAG fetches start there */
  root: CID
  /**
   * `dag`: a missing block starts one fetch session for the whole DAG under `root`, which then
   * streams ahead of the reader (whole files, listings, CARs). `block`: each missing block is
   * fetched on its own and nothing else (range requests read only the blocks they need).
   */
  mode: 'dag' | 'block'
  /** Longest wait for any one block */
  timeoutMs: number
  signal: AbortSignal
  /** Interior blocks shared between requests */
  cache?: BlockCache
  /** Buffers ranges are read into, shared between requests */
  buffers?: ReadBuffers
  onBlock?(hit: boolean): void
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
 * The blocks one gateway request reads: from the store, and on a miss from the swarm (pull-through:
 * fetched blocks are stored, unpinned, for the next request). A block that does not arrive
 * within the retrieval timeout fails the read with GatewayTimeoutError.
 */
export class RequestBlocks {
  private readonly components: GatewayComponents
  private readonly init: RequestBlocksInit
  private readonly controller = new AbortController()
  private dagSession?: ReturnType<NonNullable<GatewayComponents['exchange']>['fetch']>
  /** Whether a fetch was started, which `close` must stop */
  private fetched = false
  private readonly onAbort = (): void => { this.controller.abort(this.init.signal.reason) }

  constructor (components: GatewayComponents, init: RequestBlocksInit) {
    this.components = components
    this.init = init
    init.signal.addEventListener('abort', this.onAbort, { once: true })
  }

  /** Stop any fetch this request started */
  close (): void {
    this.init.signal.removeEventListener('abort', this.onAbort)
    // most requests read only stored blocks: an abort (and the error it makes) is for those that fetched
    if (this.fetched) this.controller.abort()
  }

  /** The shape ipfs-unixfs-exporter reads blocks through */
  get blockstore (): any {
    return {
      get: async function * (this: RequestBlocks, cid: CID, options?: { signal?: AbortSignal }) {
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
    return bytes
  }

  /** Buffers ranges are read into, when the gateway shares a pool */
  get buffers (): ReadBuffers | undefined {
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
      return bytes
    } catch (err: any) {
      if (err.name !== 'BlockNotFoundError') throw err
      this.init.onBlock?.(false)
      return this.retrieve(cid, async () => read.call(this.components.blocks, cid, offset, length, options))
    }
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
      const deadline = Date.now() + this.init.timeoutMs
      const timeout = (): GatewayTimeoutError => new GatewayTimeoutError(`block ${cid}`, this.init.timeoutMs)
      let single = this.init.mode === 'block'
      while (true) {
        this.controller.signal.throwIfAborted()
        const left = deadline - Date.now()
        if (left <= 0 || exchange == null) throw timeout()
        const attempt = new AbortController()
        const abortAttempt = (): void => { attempt.abort(this.controller.signal.reason) }
        this.controller.signal.addEventListener('abort', abortAttempt, { once: true })
        const timer = setTimeout(() => { attempt.abort(timeout()) }, left)
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
          // no peer could serve it (yet): a peer may connect, so try again until the deadline
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
