import { withApi } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('stats', ['stats'], async (api, globals) => {
      const s = await api.stats()
      printResult(globals, [
        `peer ${s.peerId} (${s.online ? `online, reachability ${s.reachability}` : 'offline'}, up ${s.uptime} s)`,
        `store: ${s.store.blocks} blocks, ${formatBytes(s.store.bytes)}, ${s.store.pins} pins`,
        ...(s.network != null ? [`network: ${s.network.connections} connections, ${s.network.peers} peers, ${s.network.knownPeers} known, ${s.network.gossipTopics} topics; DHT ${s.network.dht.mode}, ${s.network.dht.routingTable} in its routing table`] : []),
        ...(s.network != null && s.network.confirmed.length > 0 ? [`confirmed dialable from outside: ${s.network.confirmed.join(', ')}`] : [])
      ], s)
    }))
}
