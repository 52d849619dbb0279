import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('unfollow', ['unfollow'], async (api, globals, [name]) => {
      const r = await api.unfollow(name ?? '')
      printResult(globals, `stopped following ${r.name}${r.unpinned.length > 0 ? `; unpinned ${r.unpinned.length} version(s)` : ''}`, r)
    }))
}
