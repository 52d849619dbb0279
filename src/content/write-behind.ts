import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/**
 * A put that returns as soon as the block is queued, so the importer reads and hashes the next
 * chunks while earlier blocks are written and synced. At most `maxBytes` are queued; `flush()`
 * waits for every write and throws the first error, so a root is never returned (or pinned)
 * before all its blocks are stored.
 */
export class WriteBehind implements Pick<Blockstore, 'put'> {
  private queued = 0
  private readonly writes = new Set<Promise<void>>()
  private error?: Error
  private waiting: Array<() => void> = []

  constructor (private readonly target: Pick<Blockstore, 'put'>, private readonly maxBytes: number) {}

  async put (cid: CID, bytes: any): Promise<CID> {
    if (this.error != null) throw this.error
    const size: number = bytes instanceof Uint8Array ? bytes.byteLength : 0
    while (this.queued > 0 && this.queued + size > this.maxBytes) {
      await new Promise<void>(resolve => { this.waiting.push(resolve) })
      if (this.error != null) throw this.error
    }
    this.queued += size
    const write: Promise<void> = Promise.resolve(this.target.put(cid, bytes)).then(() => {}, (err) => {
      this.error ??= err
    }).finally(() => {
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
    if (this.error != null) throw this.error
  }
}
