import fs from 'node:fs'
import { open } from 'node:fs/promises'
import { InvalidArgumentError } from '../../errors.js'
import { withApi } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--no-pin', 'do not pin the roots (a CAR that is not a whole DAG can be imported this way)')
    .action(withApi('import', ['importCar'], async (api, globals, [file]) => {
      let source: AsyncIterable<Uint8Array>
      if (file === '-') {
        source = process.stdin
      } else {
        // open first, so a missing file is named before anything else happens
        const handle = await open(file ?? '', 'r').catch((err: any) => {
          throw new InvalidArgumentError(`cannot read ${file} (${err.code ?? err.message}): name a CAR file, or "-" for stdin`)
        })
        if ((await handle.stat()).isDirectory()) {
          await handle.close()
          throw new InvalidArgumentError(`${file} is a directory: name a CAR file`)
        }
        source = fs.createReadStream('', { fd: handle.fd, autoClose: true, highWaterMark: 1024 * 1024 })
      }
      const result = await api.importCar(source, { pin: globals.pin !== false })
      const roots = result.roots.join(', ')
      printResult(globals, [
        `imported ${result.blocks} blocks (${formatBytes(result.bytes)})`,
        ...(result.pinned.length > 0 ? [`pinned ${result.pinned.join(', ')}`] : [`roots ${roots === '' ? '(none)' : roots} (not pinned)`])
      ], result)
    }))
}
