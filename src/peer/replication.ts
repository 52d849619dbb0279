import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { REPLICA_SLACK, second } from '../constants.js'
import type { Announcement, GossipComponents, Member } from '../gossip/index.js'
import type { Host } from '../host/index.js'
import type { Store } from '../store/index.js'

export interface ReplicationComponents {
  store: Pick<Store, 'pins'>
  host: Pick<Host, 'peerStore' | 'dial' | 'getConnections'>
  /**
   * Fetch a DAG of at most `maxBytes` (from the peers `from` names first), pin it as a replica and
   * provide it; `whole()` once every block is stored, before the pin is written
   */
  fetch(cid: string, name: string, maxBytes: number, from: string[], whole?: () => void): Promise<unknown>
}

/** The hooks gossip calls to replicate content on this peer (its replication policy is in gossip/) */
export function replicationHooks (components: ReplicationComponents): Pick<GossipComponents, 'replicated' | 'hold'> {
  return {
    // an unreadable record counts for nothing here; gc and eviction keep its content
    replicated: async () => (await components.store.pins.scan()).pins.filter(p => p.origin === 'replica').reduce((n, p) => n + p.size, 0),
    hold: async (a, publisher, whole) => { await hold(components, a, publisher, whole) }
  }
}

/**
 * Replicate announced content: fetch it from its publisher (named to the session, so it is asked
 * at once and without a `have` probe, whatever its load and however many peers are connected),
 * pin it as a replica, provide it
 */
async function hold (components: ReplicationComponents, a: Announcement, member: Member | undefined, whole?: () => void): Promise<void> {
  const host = components.host
  const id = peerIdFromString(a.publisher)
  const direct = (): boolean => host.getConnections(id).some(c => c.limits == null)
  // a publisher already connected is asked on that connection; the peer store is not touched
  if (!direct() && member != null && member.addresses.length > 0) {
    await host.peerStore.merge(id, { multiaddrs: member.addresses.map(m => multiaddr(m)) }).catch(() => {})
    await host.dial(id, { signal: AbortSignal.timeout(10 * second) }).catch(() => {})
  }
  // named on a connection without limits only (a relayed one is left to the session's own
  // handling of limited connections, as for any connected peer)
  const from = direct() ? [`/p2p/${a.publisher}`] : []
  // fetching provides it too (in the background). The policy took the size the announcement
  // gave: a DAG that grows past it (a publisher that understated it) is dropped, not pinned
  await components.fetch(a.cid, a.name, replicaLimit(a.size), from, whole)
}

/**
 * The bytes a replica may have: the content size it was announced with, plus what its DAG's
 * own nodes add (well under 1% for UnixFS) and a MiB of slack
 */
export function replicaLimit (announced: number): number {
  return announced + Math.ceil(announced / 100) + REPLICA_SLACK
}
