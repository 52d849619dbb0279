import { RateLimiter } from './rate.js'

/**
 * What a peer spends serving others, shared by every protocol that serves blocks (shoal's own
 * exchange, bitswap): `slots` peers served at once (a peer already served may open more streams
 * on its slot) and one upload rate cap over all of them.
 */
export class Uploads {
  readonly rate: RateLimiter
  private readonly slots: number
  private readonly held = new Map<string, number>()
  private readonly waiting: Array<() => void> = []

  constructor (slots: number, rate: number) {
    this.slots = slots
    this.rate = new RateLimiter(rate)
  }

  /** Take a slot for `peer` if one is free now */
  tryTake (peer: string): boolean {
    const n = this.held.get(peer)
    if (n != null) {
      this.held.set(peer, n + 1)
      return true
    }
    if (this.held.size >= this.slots) return false
    this.held.set(peer, 1)
    return true
  }

  /** Take a slot for `peer`, waiting for one to be released if none is free */
  async take (peer: string, signal?: AbortSignal): Promise<void> {
    while (!this.tryTake(peer)) {
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(signal?.reason) }
        this.waiting.push(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        })
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  release (peer: string): void {
    const n = this.held.get(peer) ?? 1
    if (n > 1) {
      this.held.set(peer, n - 1)
      return
    }
    this.held.delete(peer)
    // everyone waiting tries again: a peer that already holds a slot gets in without one
    for (const wake of this.waiting.splice(0)) wake()
  }

  /** Peers being served now */
  get active (): number {
    return this.held.size
  }
}
