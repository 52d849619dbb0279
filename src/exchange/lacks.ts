/**
 * Which peers of a fetch session said they lack which blocks (`NOT_FOUND`): they are not asked
 * for them again, and a queued block that every peer in the session lacks can never arrive.
 */
export class Lacks {
  private readonly byPeer = new Map<string, Set<string>>()
  /** Whether a peer said it lacks a block, or left, since `unobtainable` last looked */
  private changed = true

  /** The blocks (by key) a peer lacks, if it said it lacks any */
  of (peerId: string): Set<string> | undefined {
    return this.byPeer.get(peerId)
  }

  note (peerId: string, key: string): void {
    const keys = this.byPeer.get(peerId) ?? new Set()
    keys.add(key)
    this.byPeer.set(peerId, keys)
    this.changed = true
  }

  /** A peer left the session */
  peerLeft (): void {
    this.changed = true
  }

  /**
   * The first of `queued` that every one of `peers` lacks. Looked for only when that may have
   * changed: a scan of the queue on every scheduling pass made a fetch quadratic in its blocks.
   */
  unobtainable<T extends { key: string }> (peers: Iterable<string>, queued: Iterable<T>): T | undefined {
    if (!this.changed) return undefined
    this.changed = false
    const lacks = [...peers].map(p => this.byPeer.get(p))
    if (lacks.some(l => l == null)) return undefined
    for (const job of queued) {
      if (lacks.every(l => l?.has(job.key) === true)) return job
    }
    return undefined
  }
}
