import { UsageError } from '../../errors.js'
import { SHELLS, completionScript } from '../completion.js'
import type { Shell } from '../completion.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('completion <shell>')
    .description(`print a completion script for ${SHELLS.join(', ')} (see the README for where it goes)`)
    .action(async (shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`no completion for "${shell}": give one of ${SHELLS.join(', ')}`)
      process.stdout.write(completionScript(program, shell as Shell))
    })
}
