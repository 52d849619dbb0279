import type { AbortOptions } from '../api/types.js'
import type { FetchHandle } from '../exchange/index.js'
import type { FsBlocks } from '../store/index.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export interface ReadThroughComponents {
  store: Pick<FsBlocks, 'has' | 'getBytes' | 'touch'>
  /** Open the DAG's fetch session; called the first time a block is missing */
  session(signal: AbortSignal): Pick<FetchHandle, 'blockReady'>
  /** Called on close when a session was opened: the store may have grown */
  onFetched(): void
}

export interface ReadThroughInit {
  /** Mark each block read as used, for least-recently-used eviction */
  touch: boolean
}

/** Blocks a reader takes one at a time, and `close` once it is done, early or not */
export interface ReadableDag {
  blocks: Pick<Blockstore, 'get'>
  close(): void
}

/**
 * Blocks to read a DAG from: the store, and when a block is missing, a fetch session for the DAG
 * that the reader waits on, so content streams while it arrives
 */
export function readThrough (components: ReadThroughComponents, init: ReadThroughInit, options: AbortOptions): ReadableDag {
  const store = components.store
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort() }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  let session: Pick<FetchHandle, 'blockReady'> | undefined
  const touch = init.touch
  const blocks = {
    async * get (cid: CID, opts?: AbortOptions): AsyncGenerator<Uint8Array> {
      if (!await store.has(cid)) {
        session ??= components.session(controller.signal)
        await session.blockReady(cid)
      }
      const bytes = await store.getBytes(cid, opts)
      if (touch) void store.touch(cid)
      yield bytes
    }
  }
  return {
    blocks: blocks as unknown as Pick<Blockstore, 'get'>,
    close: () => {
      options.signal?.removeEventListener('abort', onAbort)
      // a reader that stops early does not leave a fetch running
      controller.abort()
      if (session != null) components.onFetched()
    }
  }
}
