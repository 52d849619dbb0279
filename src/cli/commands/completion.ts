import { UsageError } from '../../errors.js'
import { SHELLS, completionScript } from '../completion.js'
import type { Shell } from '../completion.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(async (shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`no completion for "${shell}": give one of ${SHELLS.join(', ')}`)
      process.stdout.write(completionScript(command.parent ?? command, shell as Shell))
    })
}
