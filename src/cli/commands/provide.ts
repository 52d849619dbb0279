import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('provide', ['provide'], async (api, globals, [cid]) => {
      const result = await api.provide(cid ?? '')
      printResult(globals, `provided ${result.cid}: ${result.accepted} DHT peer(s) accepted the record`, result)
    }))
}
