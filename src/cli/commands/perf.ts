import { nonNegativeInt, withApi } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--bytes <n>', 'bytes to download (default 256 MiB)', nonNegativeInt)
    .option('--hash', 'hash what arrives with SHA-256 in 1 MiB pieces, as a fetch verifies blocks: the most a verifying fetch can reach')
    .action(withApi('perf', ['perf'], async (api, globals, [addr]) => {
      const r = await api.perf(addr ?? '', { bytes: globals.bytes, hash: globals.hash === true })
      if (globals.hash === true && r.hashed == null) throw new Error('the daemon did not hash what arrived: it is older than this CLI, restart it')
      const hashed = r.hashed != null ? `, ${r.hashed.pieces} piece(s) hashed` : ''
      printResult(globals, `${formatBytes(r.bytes)} from ${r.peerId} in ${r.seconds.toFixed(2)} s: ${r.MBps.toFixed(1)} MB/s${hashed}`, r)
    }))
}
