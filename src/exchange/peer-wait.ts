import { REJOIN_GRACE } from '../constants.js'

/**
 * When a fetch session may give up for want of peers: not while providers are still being
 * asked or a peer a later caller named is being dialled, and, once peers have served and all
 * left (killed, restarted, disconnected), not before REJOIN_GRACE has passed without one coming
 * back (peers that connect again join through the exchange).
 */
export class PeerWait {
  private providersPending = true
  private expected = 0
  private hadPeer = false
  private grace?: ReturnType<typeof setTimeout>
  private graceOver = false

  /** @param recheck - called when a wait ends, to look again */
  constructor (private readonly recheck: () => void) {}

  /** A peer joined: a grace running for lost peers ends */
  joined (): void {
    this.hadPeer = true
    clearTimeout(this.grace)
    this.grace = undefined
    this.graceOver = false
  }

  /** Every known provider has been asked */
  providersDone (): void {
    this.providersPending = false
    this.recheck()
  }

  /** A named peer is being added; call the returned function once it has joined or failed to */
  expect (): () => void {
    this.expected++
    let called = false
    return () => {
      if (called) return
      called = true
      this.expected--
      this.recheck()
    }
  }

  /** Whether more peers may still join, so no block counts as unobtainable yet */
  get waiting (): boolean {
    return this.providersPending || this.expected > 0
  }

  /** With no peer in the session: true to give up now, false while the grace for lost peers runs */
  giveUpWithoutPeers (): boolean {
    if (!this.hadPeer || this.graceOver) return true
    this.grace ??= setTimeout(() => { this.grace = undefined; this.graceOver = true; this.recheck() }, REJOIN_GRACE)
    return false
  }

  stop (): void {
    clearTimeout(this.grace)
  }
}
