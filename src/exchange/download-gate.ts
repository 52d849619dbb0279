import { MAX_RATE_WAIT, RATE_BLOCK_ESTIMATE } from '../constants.js'
import type { RateLimiter } from './rate.js'

/**
 * A fetch session's side of the download cap (`exchange.downloadRate`, one bucket for all of a
 * peer's fetches). A request goes out only while the bucket is not in debt, and takes its
 * block's bytes from the bucket as it goes out, estimated at the largest block so far and at
 * least RATE_BLOCK_ESTIMATE; the estimate is settled when the block arrives, and given back when
 * it does not. A capped fetch therefore runs ahead of the cap by one second and one block at
 * most, across all fetches sharing the bucket, and never holds blocks in memory waiting for it.
 */
export class DownloadGate {
  private largest = 0
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false

  /** `reopen` runs when the bucket is out of debt again after `allows` said no */
  constructor (private readonly bucket: RateLimiter, private readonly reopen: () => void) {}

  /** Whether a request may go out now; if not, `reopen` runs once one may */
  allows (): boolean {
    const wait = this.bucket.waitFor(0)
    if (wait === 0) return true
    if (this.timer == null && !this.stopped) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.reopen()
      }, Math.min(wait, MAX_RATE_WAIT))
    }
    return false
  }

  /** A request goes out: its estimate is taken from the bucket; returns what was taken */
  reserve (): number {
    if (this.bucket.unlimited) return 0
    const reserved = Math.max(this.largest, RATE_BLOCK_ESTIMATE)
    this.bucket.debit(reserved)
    return reserved
  }

  /** The block of a request that reserved `reserved` arrived with `bytes` */
  settle (reserved: number, bytes: number): void {
    this.largest = Math.max(this.largest, bytes)
    this.bucket.debit(bytes - reserved)
  }

  /** A request that reserved `reserved` got no block */
  giveBack (reserved: number): void {
    this.bucket.debit(-reserved)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }
}
