/**
 * The swarm's size, estimated from the global beats a peer hears. Every member beats on the
 * global topic once per its own period and says that period in the beat, so a beat stands for its
 * author during one period: summing the periods of the beats heard in a window and dividing by the
 * window counts the members (a Horvitz-Thompson estimate). It needs no full table and holds
 * whatever the members' periods are, so a peer can stretch its own period from the estimate
 * without feeding back into it. The window decays exponentially; before a whole window has passed
 * since start, the sum is divided by the part of it that has.
 */

/** Fewer (decayed) beats than this in the window and the estimate leans on what neighbours report */
const MIN_SAMPLES = 8

export class SizeEstimate {
  readonly windowMs: number
  private sum = 0
  private samples = 0
  private at = 0
  private since = Infinity

  constructor (windowMs: number) {
    this.windowMs = windowMs
  }

  /**
   * Start counting; with `known`, the size of the swarm as this peer last knew it (its previous
   * run, or a swarm already formed in the simulator), as if a whole window of a steady swarm of
   * that size had been heard
   */
  start (now: number, known?: number): void {
    this.sum = 0
    this.samples = 0
    this.at = now
    this.since = now
    if (known != null && known > 1) {
      this.sum = (known - 1) * this.windowMs
      this.samples = MIN_SAMPLES
      this.since = -Infinity
    }
  }

  private decay (now: number): void {
    if (now <= this.at) return
    const k = Math.exp(-(now - this.at) / this.windowMs)
    this.sum *= k
    this.samples *= k
    this.at = now
  }

  /** A global beat from another member, whose period is `intervalMs` */
  add (intervalMs: number, now: number): void {
    this.decay(now)
    this.sum += intervalMs
    this.samples += 1
  }

  /** Beats counted in the window (decayed) */
  count (now: number): number {
    this.decay(now)
    return this.samples
  }

  /** Other members, estimated from the beats heard (0 before start) */
  others (now: number): number {
    this.decay(now)
    if (now < this.since) return 0
    // a few beats in the first moments are not a swarm: count at least a little of the window
    const elapsed = Math.max(now - this.since, this.windowMs / 80)
    // the expected sum after `elapsed` of a steady swarm is N * window * (1 - e^(-elapsed/window))
    return this.sum / (this.windowMs * (1 - Math.exp(-elapsed / this.windowMs)))
  }

  /**
   * The swarm's size, this peer included: the beats' estimate once enough beats were heard,
   * before that what neighbours report (their median); never less than the members it lists
   */
  size (now: number, reported: number[], known: number): number {
    const own = 1 + this.others(now)
    if (this.count(now) >= MIN_SAMPLES || reported.length === 0) return Math.max(own, known, 1)
    return Math.max(median(reported), known, 1)
  }
}

export function median (xs: number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
