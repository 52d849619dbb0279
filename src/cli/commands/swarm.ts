import fs from 'node:fs/promises'
import { InvalidArgumentError } from '../../errors.js'
import { globalsOf } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  const swarm = command
  swarm.command('keygen')
    .description('make a pre-shared key for a private swarm: give the file to every member and set "swarmKey" in their config to its path')
    .option('-o, --output <file>', 'write the key to this file (mode 0600) instead of stdout')
    .action(async (opts: { output?: string }, ...rest: any[]) => {
      const globals = globalsOf(rest)
      const { generateKey } = await import('@libp2p/pnet')
      const key = new Uint8Array(95)
      generateKey(key)
      const text = Buffer.from(key).toString('latin1') + '\n'
      if (opts.output == null) {
        if (globals.json === true) printResult(globals, [], { key: text })
        else process.stdout.write(text)
        return
      }
      try {
        // never overwrite a key: members holding the old one would be locked out
        await fs.writeFile(opts.output, text, { mode: 0o600, flag: 'wx' })
      } catch (err: any) {
        if (err.code === 'EEXIST') throw new InvalidArgumentError(`${opts.output} exists: a new key would lock out the members holding it; choose another file`)
        throw err
      }
      printResult(globals, `wrote a swarm key to ${opts.output}: set "swarmKey" to this path in the config of every member`, { file: opts.output })
    })
}
