/**
 * A peer joining a fetch session: the `have` probe that decides it, the bound on a join, and a
 * join over a limited (relayed) connection, which the server serves within the circuit's budget
 * (`limited.ts`).
 */
import { HAVE_TIMEOUT, JOIN_TIMEOUT } from '../constants.js'
import { PeerChannel } from './channel.js'
import type { BlockChannel } from './channel.js'
import type { FetchSession } from './session.js'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Tries at opening a stream on a peer's connection that closed as it opened, and the pause
 * between them (ms): two peers that dial each other (through a relay, often) at once get two
 * connections and one is closed; the next try finds the one kept
 */
export const JOIN_ATTEMPTS = 3
export const JOIN_PAUSE = 250

/**
 * The caller's signal bounded by JOIN_TIMEOUT: a dial or protocol negotiation on a connection that
 * died unnoticed (a peer killed behind a NAT or relay) must not hang the join
 */
export function joinSignal (signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(JOIN_TIMEOUT)
  return signal != null ? AbortSignal.any([signal, timeout]) : timeout
}

/**
 * Add the peer behind `channel` to `session` if it has `root`: asked with `have` when `probe`
 * (its answer's load kept for ranking), taken unasked when it was named. The channel is closed
 * when the peer lacks the root; true when it joined.
 */
export async function addIfHasRoot (session: FetchSession, channel: BlockChannel, root: CID, probe: boolean): Promise<boolean> {
  if (probe) {
    const { response } = await channel.request({ have: { cids: [root.bytes] } }, HAVE_TIMEOUT)
    const res = await response
    if (res.have?.have[0] !== true) {
      channel.close()
      return false
    }
    channel.load = res.have.load
  }
  session.addPeer(channel)
  return true
}

export interface LimitedJoin {
  host: Pick<Libp2p, 'dialProtocol'>
  session: FetchSession
  peer: PeerId
  root: CID
  probe: boolean
  signal?: AbortSignal
  onHeard?(peerId: string): void
  log: Logger
}

/**
 * Add a peer to the session over its limited (relayed) connection, if it speaks shoal's exchange
 * and has the root; the channel, or undefined when it could not join
 */
export async function joinOverLimited ({ host, session, peer, root, probe, signal, onHeard, log }: LimitedJoin): Promise<BlockChannel | undefined> {
  for (let attempt = 1; attempt <= JOIN_ATTEMPTS && session.running && signal?.aborted !== true; attempt++) {
    let channel: PeerChannel | undefined
    try {
      channel = await PeerChannel.open(host, peer, joinSignal(signal), onHeard, true)
      return await addIfHasRoot(session, channel, root, probe) ? channel : undefined
    } catch (err: any) {
      channel?.close(err)
      log('could not add %s over its relayed connection (try %d): %s', peer.toString(), attempt, err.message)
      await new Promise(resolve => setTimeout(resolve, JOIN_PAUSE))
    }
  }
  return undefined
}
