import { withApi } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('peers', ['peers', 'members', 'id'], async (api, globals) => {
      const [members, peers, id] = await Promise.all([api.members(), api.peers(), api.id()])
      const now = Date.now()
      printResult(globals, [
        `members (${members.filter(m => m.state !== 'gone').length} not gone)${id.swarm?.partial === true ? `, part of a swarm of about ${id.swarm.estimate} peers` : ''}:`,
        ...members.map(m => `  ${m.peerId}${m.self === true ? ' (this peer)' : ''}\t${m.state}\tuploads ${m.uploads}/${m.uploadSlots}\tfree ${formatBytes(m.free)}\tpins ${m.pins}\tseen ${Math.max(0, Math.round((now - m.lastSeen) / 1000))} s ago`),
        `connected (${peers.length}):`,
        ...peers.map(p => `  ${p.peerId}\t${p.direction}${p.dhtServer === true ? '\tdht' : ''}\t${p.addresses.join(' ')}`),
        ...(id.bootstrap != null ? [`bootstrap: ${id.bootstrap}`] : [])
      ], { members, peers, ...(id.swarm != null ? { swarm: id.swarm } : {}), ...(id.bootstrap != null ? { bootstrap: id.bootstrap } : {}) })
    }))
}
