import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('connect <multiaddr>')
    .description('dial a peer by multiaddr ending in /p2p/<peer id> (needs a running daemon)')
    .action(withApi('connect', false, async (api, globals, [addr]) => {
      const peer = await api.connect(addr ?? '')
      printResult(globals, `connected to ${peer.peerId} via ${peer.addresses.join(' ')}`, peer)
    }))
}
