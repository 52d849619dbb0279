import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidArgumentError } from '../../errors.js'
import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('connect <multiaddr>')
    .description('dial a peer by multiaddr ending in /p2p/<peer id> (needs a running daemon)')
    .action(withApi('connect', false, async (api, globals, [addr]) => {
      checkPeerId(addr ?? '')
      const peer = await api.connect(addr ?? '')
      printResult(globals, `connected to ${peer.peerId} via ${peer.addresses.join(' ')}`, peer)
    }))
}

/** A /p2p/ part that is no peer id is bad input: say so here rather than fail inside the dial */
function checkPeerId (addr: string): void {
  let id: string | undefined
  try {
    id = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value
  } catch {
    // the daemon reports an unparsable multiaddr
    return
  }
  if (id == null) return
  try {
    peerIdFromString(id)
  } catch {
    throw new InvalidArgumentError(`invalid peer id "${id}" in ${addr}: the part after /p2p/ is a peer id such as 12D3KooW...`)
  }
}
