/**
 * `id` and `stats` of a peer without its node: who it is and what its store holds. Kept apart from
 * the network commands, so an offline command loads nothing of the network.
 */
import { AGENT_VERSION } from '../version.js'
import type { AbortOptions, IdResult, StatsResult } from '../interface/types.js'
import type { Store } from '../store/index.js'
import type { PeerId } from '@libp2p/interface'

export interface SelfComponents {
  /** The peer's key and id, read from the repo once when first asked for */
  identity(): Promise<{ peerId: PeerId }>
  store: Pick<Store, 'stat'>
  /** When the peer opened (ms since the epoch), for its uptime */
  startedAt: number
}

/** `id` and `stats` of a peer without its host */
export function offlineSelf (components: SelfComponents): { id(): Promise<IdResult>, stats(options?: AbortOptions): Promise<StatsResult> } {
  return {
    id: async () => ({ peerId: (await components.identity()).peerId.toString(), addresses: [], agentVersion: AGENT_VERSION, online: false, reachability: 'unknown', relays: [] }),
    stats: async (options = {}) => ({
      peerId: (await components.identity()).peerId.toString(),
      online: false,
      reachability: 'unknown',
      relays: [],
      store: await components.store.stat(options),
      uptime: Math.round((Date.now() - components.startedAt) / 1000)
    })
  }
}
