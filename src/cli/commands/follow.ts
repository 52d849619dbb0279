import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { FollowedName } from '../../interface/types.js'
import type { Command } from 'commander'

function line (f: FollowedName): string {
  const current = f.current != null ? `sequence ${f.current.sequence} ${f.current.cid} since ${new Date(f.current.at).toISOString()}` : 'no version yet'
  return `${f.name}\t${current}${f.source === 'config' ? ' (config)' : ''}${f.failed != null ? `\n  failing: ${f.failed}` : ''}`
}

export function register (command: Command): void {
  command
    .action(withApi('follow', ['follow', 'following'], async (api, globals, [name]) => {
      if (name == null) {
        const names = await api.following()
        printResult(globals, names.map(line), { names })
        return
      }
      const f = await api.follow(name)
      printResult(globals, `following ${f.name}: each new version is fetched and pinned while the daemon runs`, f)
    }))
}
