import { BLOCK_BUFFER_SIZE } from '../constants.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/**
 * A put that returns as soon as the block is queued, so the importer reads and hashes the next
 * chunks while earlier blocks are written and synced. At most `maxBytes` are queued; `flush()`
 * waits for every write and throws the first error, so a root is never returned (or pinned)
 * before all its blocks are stored.
 *
 * A queued block is a copy in a buffer of the writer's own, used again for the next block once
 * its write is done. The importer's buffer (through the daemon's API, a frame of the upload) then
 * dies young; kept until its write and sync were done, it lived long enough to be promoted, and a
 * 256 MiB publish left tens of MB of dead buffers that only a full collection frees, and a heap
 * fragmented by freeing them all at once (docs/performance.md). The writer's buffers go with it.
 */
export class WriteBehind implements Pick<Blockstore, 'put'> {
  private queued = 0
  private readonly writes = new Set<Promise<void>>()
  private error?: Error
  private waiting: Array<() => void> = []
  /** Buffers of BLOCK_BUFFER_SIZE bytes not in use */
  private readonly free: Uint8Array[] = []

  constructor (private readonly target: Pick<Blockstore, 'put'>, private readonly maxBytes: number) {}

  async put (cid: CID, bytes: any): Promise<CID> {
    if (this.error != null) throw this.error
    const size: number = bytes instanceof Uint8Array ? bytes.byteLength : 0
    // copied before any wait: the importer has a few puts waiting at a time (its block write
    // concurrency), so the buffers in use are bounded by that and `maxBytes`
    const copy = bytes instanceof Uint8Array && size <= BLOCK_BUFFER_SIZE ? this.copyOf(bytes) : undefined
    try {
      while (this.queued > 0 && this.queued + size > this.maxBytes) {
        await new Promise<void>(resolve => { this.waiting.push(resolve) })
        if (this.error != null) throw this.error
      }
    } catch (err) {
      if (copy != null) this.release(copy)
      throw err
    }
    this.queued += size
    const write: Promise<void> = Promise.resolve(this.target.put(cid, copy ?? bytes)).then(() => {}, (err) => {
      this.error ??= err
    }).finally(() => {
      if (copy != null) this.release(copy)
      this.queued -= size
      this.writes.delete(write)
      // every waiter re-checks the room left
      const wake = this.waiting
      this.waiting = []
      for (const w of wake) w()
    })
    this.writes.add(write)
    return cid
  }

  async flush (): Promise<void> {
    while (this.writes.size > 0) {
      await Promise.all([...this.writes])
    }
    this.free.length = 0
    if (this.error != null) throw this.error
  }

  /** `bytes` in a free buffer of the writer's, or a new one */
  private copyOf (bytes: Uint8Array): Uint8Array {
    const buf = (this.free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BUFFER_SIZE)).subarray(0, bytes.byteLength)
    buf.set(bytes)
    return buf
  }

  /** A copy's whole buffer, free again */
  private release (copy: Uint8Array): void {
    this.free.push(new Uint8Array(copy.buffer, 0, BLOCK_BUFFER_SIZE))
  }
}
