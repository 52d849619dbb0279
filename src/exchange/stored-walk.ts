/**
 * Resume: blocks of the DAG the store holds already are never asked for; they are walked into for
 * their links instead. A raw leaf has none, so its size is all that is read, not its bytes (reading
 * every unchanged page of a site, one after another, held a one-page update for seconds on a
 * busy machine). Blocks are looked at `STORED_WALK_CONCURRENCY` at once.
 */
import * as raw from 'multiformats/codecs/raw'
import { BlockNotFoundError, StoreWriteError } from '../errors.js'
import type { ExchangeBlocks } from './index.js'
import type { CID } from 'multiformats/cid'

/** Stored blocks looked at at once while a session walks what it already holds */
const STORED_WALK_CONCURRENCY = 16

export interface StoredBlock {
  cid: CID
  key: string
  /** Its place in the DAG (the indexes of the links followed to it) */
  order: number[]
}

export interface StoredWalkParts {
  blocks: Pick<ExchangeBlocks, 'sizeOf' | 'getBytes'>
  /** A raw leaf of `size` bytes is done */
  leaf(block: StoredBlock, size: number): void
  /** A block with links is done; queue what it links to */
  node(block: StoredBlock, bytes: Uint8Array): Promise<void>
}

/** Walk stored blocks; a block that cannot be read fails the walk with a StoreWriteError */
export async function walkStored (items: StoredBlock[], parts: StoredWalkParts): Promise<void> {
  await parallel(items, STORED_WALK_CONCURRENCY, async (item) => {
    try {
      if (item.cid.code === raw.code) {
        const size = await parts.blocks.sizeOf(item.cid)
        if (size == null) throw new BlockNotFoundError(`block ${item.cid} left the store`)
        parts.leaf(item, size)
        return
      }
      await parts.node(item, await parts.blocks.getBytes(item.cid))
    } catch (err: any) {
      throw err instanceof StoreWriteError ? err : StoreWriteError.from(`block ${item.cid}`, err, 'read')
    }
  })
}

/** `fn` over every item, at most `limit` at once; rejects with the first error, after the rest settle */
async function parallel<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failed: { err: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (next < items.length && failed == null) {
      const item = items[next++]
      try {
        await fn(item)
      } catch (err) {
        failed ??= { err }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failed != null) throw failed.err
}
