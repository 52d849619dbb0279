import { withApi } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('-o, --output <path>', 'where to write it (default: the last name of the path, in the current directory)')
    .option('--force', 'replace what is already at the output path, once the new content is complete')
    .action(withApi('get', ['get'], async (api, globals, [target]) => {
      const { parseContentPath } = await import('../../content/path.js')
      const parsed = parseContentPath(target ?? '')
      const out: string = globals.output ?? parsed.segments.at(-1) ?? parsed.cid.toString()
      const { writeTree } = await import('../write-tree.js')
      const written = await writeTree(api.get(target ?? ''), out, { force: globals.force === true })
      printResult(globals, `saved ${target} to ${out} (${written.files} files, ${formatBytes(written.bytes)})`, { path: out, ...written })
    }))
}
