import fs from 'node:fs/promises'
import { InvalidArgumentError } from '../../errors.js'
import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  const key = command
  key.command('gen <name>')
    .description('make a new Ed25519 key to sign names with; prints the IPNS name it signs for')
    .action(withApi('key gen', ['keyGen'], async (api, globals, [name]) => {
      const info = await api.keyGen(name ?? '')
      printResult(globals, `${info.name}\t${info.id}`, info)
    }))
  key.command('ls')
    .description('list the keys ("self" is the peer\'s own) with the IPNS names they sign for')
    .action(withApi('key ls', ['keyLs'], async (api, globals) => {
      const keys = await api.keyLs()
      printResult(globals, keys.map(k => `${k.name}\t${k.id === '' ? '(unreadable)' : k.id}`), { keys })
    }))
  key.command('rm <name>')
    .description('remove a key: names it signs for can no longer be published (export it first to keep it)')
    .action(withApi('key rm', ['keyRm'], async (api, globals, [name]) => {
      const info = await api.keyRm(name ?? '')
      printResult(globals, `removed ${info.name} (${info.id})`, info)
    }))
  key.command('export <name>')
    .description('write a key to a file (mode 0600) in the form Kubo\'s "ipfs key export" writes')
    .requiredOption('-o, --output <file>', 'the file to write; it must not exist')
    .action(withApi('key export', ['keyExport'], async (api, globals, [name]) => {
      const { key: base64 } = await api.keyExport(name ?? '')
      try {
        await fs.writeFile(globals.output, Buffer.from(base64, 'base64'), { mode: 0o600, flag: 'wx' })
      } catch (err: any) {
        if (err.code === 'EEXIST') throw new InvalidArgumentError(`${String(globals.output)} exists: choose another file`)
        throw err
      }
      printResult(globals, `wrote key ${name ?? ''} to ${String(globals.output)}`, { name, file: globals.output })
    }))
  key.command('import <name> <file>')
    .description('add a key from a file written by "shoal key export" or Kubo\'s "ipfs key export"')
    .action(withApi('key import', ['keyImport'], async (api, globals, [name, file]) => {
      const st = await fs.stat(file ?? '')
      if (!st.isFile() || st.size > 16 * 1024) throw new InvalidArgumentError(`${file ?? ''} is not a key file (a key file is a few hundred bytes at most)`)
      const info = await api.keyImport(name ?? '', { key: (await fs.readFile(file ?? '')).toString('base64') })
      printResult(globals, `${info.name}\t${info.id}`, info)
    }))
}
