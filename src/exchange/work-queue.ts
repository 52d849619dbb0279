import { compareOrder } from './dag-order.js'
import type { BlockChannel } from './channel.js'
import type { CID } from 'multiformats/cid'

/** One block a fetch needs */
export interface Job {
  cid: CID
  key: string
  /** Position in the DAG (link indices from the root): the queue is kept in this order */
  order: number[]
  /** Peers asked for it now, with the request id once it is sent (-1 before) */
  askedFrom: Map<string, { channel: BlockChannel, id: number }>
  /** A copy has arrived and is being verified or stored: end-game leaves it alone */
  arrived?: boolean
}

/**
 * The blocks a fetch still needs: queued in DAG order until a peer takes one, then in flight
 * until it is stored (or goes back to the queue). End-game picks among the blocks in flight.
 */
export class WorkQueue {
  private readonly queue: Job[] = []
  /** Keys of the jobs in `queue`, so membership is not a scan of it */
  private readonly queuedKeys = new Set<string>()
  private readonly inflight = new Map<string, Job>()

  /** Blocks queued or in flight */
  get size (): number {
    return this.queue.length + this.inflight.size
  }

  /** Blocks waiting to be taken */
  get waiting (): number {
    return this.queue.length
  }

  /** Whether the block is queued or in flight */
  has (key: string): boolean {
    return this.queuedKeys.has(key) || this.inflight.has(key)
  }

  /** The queued jobs, in DAG order */
  queued (): Iterable<Job> {
    return this.queue
  }

  /** Queue a job in its DAG position */
  add (job: Job): void {
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareOrder(this.queue[mid].order, job.order) < 0) lo = mid + 1
      else hi = mid
    }
    this.queue.splice(lo, 0, job)
    this.queuedKeys.add(job.key)
  }

  /** The first queued job whose block `lacks` does not name, now in flight */
  take (lacks: Set<string> | undefined): Job | undefined {
    const i = this.queue.findIndex(j => lacks?.has(j.key) !== true)
    if (i < 0) return undefined
    const [job] = this.queue.splice(i, 1)
    this.queuedKeys.delete(job.key)
    this.inflight.set(job.key, job)
    return job
  }

  /** End-game: a block in flight elsewhere for `peerId` to ask too, the one asked longest ago first */
  duplicateFor (peerId: string, lacks: Set<string> | undefined): Job | undefined {
    for (const job of this.inflight.values()) {
      if (job.arrived !== true && !job.askedFrom.has(peerId) && lacks?.has(job.key) !== true && job.askedFrom.size < 2) return job
    }
    return undefined
  }

  /** A job in flight goes back to the queue */
  requeue (job: Job): void {
    job.arrived = false
    this.inflight.delete(job.key)
    if (!this.queuedKeys.has(job.key)) this.add(job)
  }

  /**
   * A block is done: its job leaves the work, in flight or queued (a copy still in flight when
   * another was stored can have put it back in the queue)
   */
  remove (key: string): void {
    this.inflight.delete(key)
    if (this.queuedKeys.delete(key)) {
      const i = this.queue.findIndex(j => j.key === key)
      if (i >= 0) this.queue.splice(i, 1)
    }
  }
}
