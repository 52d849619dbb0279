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
      let reading: { destroy(): void } | undefined
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
        // the stream owns the handle and closes it however reading ends (a raw fd would leave the
        // handle to the garbage collector, which closes that fd number later, whatever it is then)
        const stream = handle.createReadStream({ autoClose: true, highWaterMark: 1024 * 1024 })
        source = stream
        reading = stream
      }
      const result = await api.importCar(source, { pin: globals.pin !== false }).finally(() => { reading?.destroy() })
      const roots = result.roots.join(', ')
      printResult(globals, [
        `imported ${result.blocks} blocks (${formatBytes(result.bytes)})`,
        ...(result.pinned.length > 0 ? [`pinned ${result.pinned.join(', ')}`] : [`roots ${roots === '' ? '(none)' : roots} (not pinned)`])
      ], result)
    }))
}
