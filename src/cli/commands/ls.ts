import { withApi } from '../context.js'
import { formatBytes, printResult, splitUnreadablePins } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('ls', ['ls', 'pinLs'], async (api, globals, [target]) => {
      if (target == null) {
        const { pins, unreadable } = splitUnreadablePins(await api.pinLs())
        printResult(globals, pins.map(p => `${p.cid}\t${formatBytes(p.size)}\t${p.name}`), { pins, unreadable })
        return
      }
      const entries = await api.ls(target)
      printResult(globals, entries.map(e => `${e.cid}\t${e.kind === 'directory' ? '-' : formatBytes(e.size)}\t${e.name}${e.kind === 'directory' ? '/' : ''}`), { entries })
    }))
}
