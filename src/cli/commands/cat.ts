import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { nonNegativeInt, withApi } from '../context.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('cat <path>')
    .description('write a file (CID or CID/path) to stdout')
    .option('--offset <bytes>', 'start at this byte', nonNegativeInt)
    .option('--length <bytes>', 'write at most this many bytes', nonNegativeInt)
    .action(withApi('cat', true, async (api, globals, [target]) => {
      const source = api.cat(target ?? '', { offset: globals.offset, length: globals.length })
      await pipeline(Readable.from(source), process.stdout)
    }))
}
