import { REJOIN_GRACE } from '../constants.js'
import { BlockNotFoundError, PeerUnreachableError } from '../errors.js'
import type { CID } from 'multiformats/cid'

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
  /** Peers that have the content but could not join, and why */
  private readonly unreachablePeers = new Map<string, string>()

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

  /** A peer that has it could not join: why (the session's error if no peer can serve) */
  unreachable (peerId: string, reason: string): void {
    this.unreachablePeers.set(peerId, reason)
  }

  /** Why a session that gave up without peers failed, `missing` blocks of `root` short */
  noPeersError (root: CID, missing: number): Error {
    const why = [...this.unreachablePeers.values()]
    if (why.length > 0) return new PeerUnreachableError(why.join('; '))
    return new BlockNotFoundError(`no peer can serve ${root}: ${missing} block(s) missing; no peer asked (connected, named with --from, or found in the DHT) has it or could be reached; connect to a peer that has it, or pass --from MULTIADDR`)
  }

  stop (): void {
    clearTimeout(this.grace)
  }
}
