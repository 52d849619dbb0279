import { nonNegativeInt, withApi } from '../context.js'
import { printResult } from '../output.js'
import { REACHABILITY_NOTE } from './id.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--timeout <seconds>', 'how long to search the DHT', nonNegativeInt, 10)
    .action(withApi('status', ['status'], async (api, globals, [cid]) => {
      const s = await api.status(cid ?? '', { timeoutMs: globals.timeout * 1000 })
      printResult(globals, [
        `${s.cid}: ${s.local ? 'stored here in full' : 'not stored here in full'}${s.pinned ? ', pinned' : ''}`,
        `${s.holders.length} other holder(s)`,
        `this peer: reachability ${s.reachability}${REACHABILITY_NOTE[s.reachability]}`,
        ...(s.bootstrap != null ? [`bootstrap: ${s.bootstrap}`] : []),
        ...s.holders.map(h => `  ${h.peerId}\t${h.sources.join('+')}\t${h.state ?? 'not a member'}`)
      ], s)
    }))
}
