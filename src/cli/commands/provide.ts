import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('provide <cid>')
    .description('provide a CID stored here in the DHT now, and report how many DHT peers took the record (needs a running daemon)')
    .action(withApi('provide', ['provide'], async (api, globals, [cid]) => {
      const result = await api.provide(cid ?? '')
      printResult(globals, `provided ${result.cid}: ${result.accepted} DHT peer(s) accepted the record`, result)
    }))
}
