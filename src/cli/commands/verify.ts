import { withApi } from '../context.js'
import { printResult, splitUnreadablePins } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--drop', 'remove the blocks that do not match')
    .action(withApi('verify', ['verify'], async (api, globals) => {
      const r = await api.verify({ drop: globals.drop === true })
      // each unreadable pin record is named on stderr and makes the exit code 1
      const unreadable = splitUnreadablePins(r.unreadablePins ?? []).unreadable
      printResult(globals, [
        ...r.corrupt.map(c => `corrupt ${c}${r.dropped ? ' (dropped)' : ''}`),
        ...unreadable.map(u => `unreadable pin record ${u.file}`),
        `checked ${r.checked} blocks: ${r.corrupt.length} corrupt${r.skipped > 0 ? `, ${r.skipped} skipped (unknown hash)` : ''}${unreadable.length > 0 ? `; ${unreadable.length} unreadable pin record${unreadable.length > 1 ? 's' : ''}` : ''}`
      ], r)
      if (r.corrupt.length > 0 && !r.dropped) process.exitCode = 1
    }))
}
