/**
 * A floor under the length of one random-walk step. libp2p's random walk (used by the relay
 * client to find relays, and by AutoNAT) asks peer routing for the closest peers of random keys
 * in a loop; kad-dht with `allowQueryWithZeroPeers` answers a query of an empty routing table at
 * once, without yielding to the event loop, so the loop spins and the process hangs (seen in the
 * lab: a NATed peer never finished its first connection). This peer router finds nothing and
 * ends after `WALK_STEP`; libp2p's composite peer routing waits for every router, so each step
 * of a walk takes at least that long. Finding a peer by id is left to the DHT alone.
 */
import { peerRoutingSymbol } from '@libp2p/interface'
import type { AbortOptions, PeerInfo, PeerRouting } from '@libp2p/interface'

const second = 1000
/** The shortest step of a random walk */
export const WALK_STEP = 1 * second

class WalkPace {
  readonly [Symbol.toStringTag] = 'shoal:walk-pace'

  get [peerRoutingSymbol] (): Partial<PeerRouting> {
    return {
      async * getClosestPeers (_key: Uint8Array, options: AbortOptions = {}): AsyncGenerator<PeerInfo> {
        await new Promise<void>(resolve => {
          const timer = setTimeout(done, WALK_STEP)
          function done (): void {
            clearTimeout(timer)
            options.signal?.removeEventListener('abort', done)
            resolve()
          }
          options.signal?.addEventListener('abort', done, { once: true })
        })
      }
    }
  }
}

export function walkPace (): () => WalkPace {
  return () => new WalkPace()
}
