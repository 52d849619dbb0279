import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('verify')
    .description('re-hash every block and report those that no longer match their CID')
    .option('--drop', 'remove the blocks that do not match')
    .action(withApi('verify', true, async (api, globals) => {
      const r = await api.verify({ drop: globals.drop === true })
      printResult(globals, [
        ...r.corrupt.map(c => `corrupt ${c}${r.dropped ? ' (dropped)' : ''}`),
        `checked ${r.checked} blocks: ${r.corrupt.length} corrupt${r.skipped > 0 ? `, ${r.skipped} skipped (unknown hash)` : ''}`
      ], r)
      if (r.corrupt.length > 0 && !r.dropped) process.exitCode = 1
    }))
}
