/**
 * A token bucket: `take(n)` resolves when n bytes may pass at `rate` bytes per second, with at
 * most one second of burst. A rate of 0 means unlimited.
 */
export class RateLimiter {
  private tokens: number
  private last = Date.now()
  private tail: Promise<void> = Promise.resolve()

  constructor (private readonly rate: number) {
    this.tokens = rate
  }

  get unlimited (): boolean {
    return this.rate <= 0
  }

  async take (n: number, signal?: AbortSignal): Promise<void> {
    if (this.unlimited) return
    // serialise takers so a large take cannot be starved by small ones
    const prev = this.tail
    let done!: () => void
    this.tail = new Promise(resolve => { done = resolve })
    try {
      await prev
      this.refill()
      this.tokens -= n
      if (this.tokens < 0) {
        await sleep(Math.ceil(-this.tokens / this.rate * 1000), signal)
      }
    } finally {
      done()
    }
  }

  /**
   * Count `n` bytes that have passed already (or are about to), without waiting: the bucket may
   * go into debt. A negative `n` gives bytes back, up to a full bucket.
   */
  debit (n: number): void {
    if (this.unlimited) return
    this.refill()
    this.tokens = Math.min(this.rate, this.tokens - n)
  }

  /**
   * Milliseconds until the bucket holds `n` bytes (0: it does now). `n` is capped at the bucket's
   * size, one second's worth, so a caller asking for more waits for a full bucket at most.
   */
  waitFor (n: number): number {
    if (this.unlimited) return 0
    this.refill()
    const deficit = Math.min(n, this.rate) - this.tokens
    return deficit <= 0 ? 0 : Math.ceil(deficit / this.rate * 1000)
  }

  private refill (): void {
    const now = Date.now()
    this.tokens = Math.min(this.rate, this.tokens + (now - this.last) / 1000 * this.rate)
    this.last = now
  }
}

export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
