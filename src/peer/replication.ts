import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { REPLICA_SLACK, second } from '../constants.js'
import type { Announcement, GossipComponents, Member } from '../gossip/index.js'
import type { Host } from '../host/index.js'
import type { Store } from '../store/index.js'

export interface ReplicationComponents {
  store: Pick<Store, 'pins'>
  host: Pick<Host, 'peerStore' | 'dial'>
  /** Fetch a DAG of at most `maxBytes`, pin it as a replica and provide it */
  fetch(cid: string, name: string, maxBytes: number): Promise<unknown>
}

/** The hooks gossip calls to replicate content on this peer (its replication policy is in gossip/) */
export function replicationHooks (components: ReplicationComponents): Pick<GossipComponents, 'replicated' | 'hold'> {
  return {
    // an unreadable record counts for nothing here; gc and eviction keep its content
    replicated: async () => (await components.store.pins.scan()).pins.filter(p => p.origin === 'replica').reduce((n, p) => n + p.size, 0),
    hold: async (a, publisher) => { await hold(components, a, publisher) }
  }
}

/** Replicate announced content: fetch it (from its publisher first), pin it as a replica, provide it */
async function hold (components: ReplicationComponents, a: Announcement, member: Member | undefined): Promise<void> {
  const host = components.host
  if (member != null && member.addresses.length > 0) {
    const id = peerIdFromString(a.publisher)
    await host.peerStore.merge(id, { multiaddrs: member.addresses.map(m => multiaddr(m)) }).catch(() => {})
    await host.dial(id, { signal: AbortSignal.timeout(10 * second) }).catch(() => {})
  }
  // fetching provides it too (in the background). The policy took the size the announcement
  // gave: a DAG that grows past it (a publisher that understated it) is dropped, not pinned
  await components.fetch(a.cid, a.name, replicaLimit(a.size))
}

/**
 * The bytes a replica may have: the content size it was announced with, plus what its DAG's
 * own nodes add (well under 1% for UnixFS) and a MiB of slack
 */
export function replicaLimit (announced: number): number {
  return announced + Math.ceil(announced / 100) + REPLICA_SLACK
}
