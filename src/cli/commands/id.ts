import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'
import type { Reachability } from '../../interface/types.js'

/** What each verdict means for who can dial this peer */
export const REACHABILITY_NOTE: Record<Reachability, string> = {
  public: ' (peers on the internet can dial this peer)',
  private: ' (behind a NAT: reachable through its relays only)',
  unknown: ' (no peer on the internet has seen this one yet)'
}

export function register (command: Command): void {
  command
    .action(withApi('id', ['id'], async (api, globals) => {
      const id = await api.id()
      printResult(globals, [
        `peer id ${id.peerId}`,
        ...(id.online ? id.addresses.map(a => `address ${a}`) : ['offline (no daemon running): no addresses']),
        ...(id.online ? [`reachability ${id.reachability}${REACHABILITY_NOTE[id.reachability]}`] : []),
        ...id.relays.map(r => `relay ${r}`),
        ...(id.dht != null ? [`dht ${id.dht}`] : []),
        ...(id.bootstrap != null ? [`bootstrap: ${id.bootstrap}`] : []),
        ...(id.gateway != null ? [`gateway http://${id.gateway}/ipfs/`] : []),
        `agent ${id.agentVersion}`
      ], id)
    }))
}
