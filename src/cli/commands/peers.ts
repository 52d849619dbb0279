import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('peers')
    .description('list connected peers (needs a running daemon)')
    .action(withApi('peers', false, async (api, globals) => {
      const peers = await api.peers()
      printResult(globals, peers.map(p => `${p.peerId}\t${p.direction}\t${p.addresses.join(' ')}`), { peers })
    }))
}
