import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('id', ['id'], async (api, globals) => {
      const id = await api.id()
      printResult(globals, [
        `peer id ${id.peerId}`,
        ...(id.online ? id.addresses.map(a => `address ${a}`) : ['offline (no daemon running): no addresses']),
        ...(id.gateway != null ? [`gateway http://${id.gateway}/ipfs/`] : []),
        `agent ${id.agentVersion}`
      ], id)
    }))
}
