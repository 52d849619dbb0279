import { nonNegativeInt, withApi } from '../context.js'
import { toStdout } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--offset <bytes>', 'start at this byte', nonNegativeInt)
    .option('--length <bytes>', 'write at most this many bytes', nonNegativeInt)
    .action(withApi('cat', ['cat'], async (api, globals, [target]) => {
      await toStdout(api.cat(target ?? '', { offset: globals.offset, length: globals.length }))
    }))
}
