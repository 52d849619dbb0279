import { nonNegativeInt, withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--limit <n>', 'stop after this many providers', nonNegativeInt, 20)
    .option('--timeout <seconds>', 'give up searching after this long', nonNegativeInt, 30)
    .action(withApi('find', ['find'], async (api, globals, [cid]) => {
      const providers = await api.find(cid ?? '', { limit: globals.limit, timeoutMs: globals.timeout * 1000 })
      printResult(globals, providers.length === 0
        ? [`no providers of ${cid} found`]
        : providers.map(p => `${p.peerId}\t${p.addresses.join(' ')}`), { cid, providers })
    }))
}
