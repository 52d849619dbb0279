import { withApi } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('gc', ['gc'], async (api, globals) => {
      const r = await api.gc()
      printResult(globals, `removed ${r.removed} blocks (${formatBytes(r.freed)}), kept ${r.kept}`, r)
    }))
}
