/**
 * Who holds content, from both sides of the swarm: provider records in the DHT (routing/) and
 * what members say (gossip/)
 */
import { STATUS_FIND_TIMEOUT } from '../constants.js'
import { loadRank } from '../gossip/membership.js'
import type { AbortOptions, HolderInfo } from '../interface/types.js'
import type { FetchOptions } from '../exchange/index.js'
import type { Gossip } from '../gossip/index.js'
import type { Routing } from '../routing/index.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface SourcesComponents {
  routing: Pick<Routing, 'findProviders'>
  /** Members' load */
  gossip: Pick<Gossip, 'member'>
}

/**
 * The sources of a fetch session for a DAG besides connected peers: DHT providers, asked when
 * no connected peer has it; and the order to ask peers in, lightest loaded members first
 */
export function sources (root: CID, components: SourcesComponents): Pick<FetchOptions, 'providers' | 'rank'> {
  const { routing, gossip } = components
  return {
    providers: (signal) => providerIds(routing, root, signal),
    rank: (peerId) => loadRank(gossip.member(peerId))
  }
}

async function * providerIds (routing: Pick<Routing, 'findProviders'>, root: CID, signal: AbortSignal): AsyncGenerator<PeerId> {
  for await (const p of routing.findProviders(root, { signal })) yield p.id
}

export interface HoldersComponents {
  /** This peer, which is not listed */
  self: string
  routing: Pick<Routing, 'findProviders'>
  gossip: Pick<Gossip, 'holders' | 'member'>
}

/**
 * The peers that hold a root in full, as members said (HELD) and as DHT provider records say,
 * each with where we heard it and its membership state
 */
export async function holders (root: CID, components: HoldersComponents, options: AbortOptions & { timeoutMs?: number }): Promise<HolderInfo[]> {
  const { routing, gossip } = components
  const found = new Map<string, HolderInfo>()
  const note = (peerId: string, source: 'dht' | 'gossip', heardAt?: number): void => {
    const h = found.get(peerId) ?? { peerId, sources: [] }
    if (!h.sources.includes(source)) h.sources.push(source)
    if (heardAt != null) h.heardAt = heardAt
    const state = gossip.member(peerId)?.state
    if (state != null) h.state = state
    found.set(peerId, h)
  }
  for (const h of gossip.holders(root.toString())) {
    if (h.peerId !== components.self) note(h.peerId, 'gossip', h.heardAt)
  }
  for await (const p of routing.findProviders(root, { signal: options.signal, timeoutMs: options.timeoutMs ?? STATUS_FIND_TIMEOUT })) {
    note(p.id.toString(), 'dht')
  }
  return [...found.values()]
}
