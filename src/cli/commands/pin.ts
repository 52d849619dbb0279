import { withApi } from '../context.js'
import { formatBytes, printResult, splitUnreadablePins } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  const pin = command
  pin.command('add <cid>')
    .description('pin a root whose whole DAG is in the store')
    .option('--name <name>', 'a name to list it by')
    .action(withApi('pin add', ['pinAdd'], async (api, globals, [cid]) => {
      const info = await api.pinAdd(cid ?? '', { name: globals.name })
      printResult(globals, `pinned ${info.cid} (${info.name})`, info)
    }))
  pin.command('rm <cid>')
    .description('unpin a root; its blocks go at the next gc unless another pin needs them')
    .action(withApi('pin rm', ['pinRm'], async (api, globals, [cid]) => {
      await api.pinRm(cid ?? '')
      printResult(globals, `unpinned ${cid}`, { cid })
    }))
  pin.command('ls')
    .description('list pinned roots')
    .action(withApi('pin ls', ['pinLs'], async (api, globals) => {
      const { pins, unreadable } = splitUnreadablePins(await api.pinLs())
      printResult(globals, pins.map(p => `${p.cid}\t${formatBytes(p.size)}\t${p.name}`), { pins, unreadable })
    }))
}
