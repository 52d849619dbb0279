import { identity } from 'multiformats/hashes/identity'
import { GatewayTimeoutError } from '../errors.js'
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
  onBlock?(hit: boolean): void
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
  private readonly onAbort = (): void => { this.controller.abort(this.init.signal.reason) }

  constructor (components: GatewayComponents, init: RequestBlocksInit) {
    this.components = components
    this.init = init
    init.signal.addEventListener('abort', this.onAbort, { once: true })
  }

  /** Stop any fetch this request started */
  close (): void {
    this.init.signal.removeEventListener('abort', this.onAbort)
    this.controller.abort()
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
    const store = this.components.blocks
    if (await store.has(cid)) {
      this.init.onBlock?.(true)
      return store.getBytes(cid, options)
    }
    this.init.onBlock?.(false)
    await this.retrieve(cid)
    return store.getBytes(cid, options)
  }

  private async retrieve (cid: CID): Promise<void> {
    const exchange = this.components.exchange
    const deadline = Date.now() + this.init.timeoutMs
    const timeout = (): GatewayTimeoutError => new GatewayTimeoutError(`block ${cid}`, this.init.timeoutMs)
    while (true) {
      this.controller.signal.throwIfAborted()
      const left = deadline - Date.now()
      if (left <= 0 || exchange == null) throw timeout()
      const attempt = new AbortController()
      const abortAttempt = (): void => { attempt.abort(this.controller.signal.reason) }
      this.controller.signal.addEventListener('abort', abortAttempt, { once: true })
      const timer = setTimeout(() => { attempt.abort(timeout()) }, left)
      try {
        let session
        if (this.init.mode === 'dag') {
          this.dagSession ??= exchange.fetch(this.init.root, { signal: this.controller.signal })
          session = this.dagSession
        } else {
          session = exchange.fetch(cid, { signal: attempt.signal })
        }
        await Promise.race([
          session.blockReady(cid),
          new Promise((_resolve, reject) => {
            attempt.signal.addEventListener('abort', () => { reject(attempt.signal.reason) }, { once: true })
          })
        ])
        return
      } catch (err: any) {
        if (this.controller.signal.aborted) throw this.controller.signal.reason ?? err
        if (err instanceof GatewayTimeoutError) throw err
        // no peer could serve it (yet): a peer may connect, so try again until the deadline
        this.dagSession = undefined
        await new Promise(resolve => setTimeout(resolve, Math.min(RETRY_DELAY, Math.max(0, deadline - Date.now()))))
      } finally {
        clearTimeout(timer)
        this.controller.signal.removeEventListener('abort', abortAttempt)
        // a single-block fetch ends as soon as its block is stored, before it walks any links
        if (this.init.mode === 'block') attempt.abort()
      }
    }
  }
}
