import { UsageError } from '../../errors.js'
import { withApi } from '../context.js'
import { formatBytes, printResult, toStdout } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('-o, --output <file>', 'write the CAR to this file (replaced only once the CAR is whole)')
    .option('--scope <scope>', 'all (the whole DAG, default), entity (a file, or a directory\'s own block) or block', 'all')
    .action(withApi('export', ['exportCar'], async (api, globals, [target]) => {
      const scope = String(globals.scope)
      if (scope !== 'all' && scope !== 'entity' && scope !== 'block') throw new UsageError(`invalid --scope "${scope}": use all, entity or block`)
      const out: string | undefined = globals.output
      const { checkOutput, outputError, siblingOf } = await import('../write-tree.js')
      if (out == null && process.stdout.isTTY === true) {
        throw new UsageError('refusing to write a CAR to a terminal: redirect stdout (shoal export CID > file.car) or pass -o FILE')
      }
      // a missing directory is reported before any work, naming the path given
      if (out != null) await checkOutput(out, { force: true })
      let bytes = 0
      const source = (async function * () {
        for await (const chunk of api.exportCar(target ?? '', { scope })) {
          bytes += chunk.byteLength
          yield chunk
        }
      })()
      if (out == null) {
        await toStdout(source)
        return
      }
      // a partial CAR never takes the output's name
      const fs = await import('node:fs')
      const { rename, rm } = await import('node:fs/promises')
      const { Readable } = await import('node:stream')
      const { pipeline } = await import('node:stream/promises')
      const tmp = siblingOf(out, 'tmp')
      try {
        await pipeline(Readable.from(source), fs.createWriteStream(tmp, { flags: 'wx' }))
        await rename(tmp, out)
      } catch (err) {
        throw outputError(err, out)
      } finally {
        await rm(tmp, { force: true })
      }
      printResult(globals, `exported ${target} to ${out} (${formatBytes(bytes)})`, { path: out, bytes })
    }))
}
