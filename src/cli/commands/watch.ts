import { positiveInt, withApi } from '../context.js'
import { formatBytes } from '../output.js'
import type { Announcement, NameUpdate } from '../../interface/types.js'
import type { Command } from 'commander'

function announcementLine (a: Announcement): string {
  const tags = a.tags.length > 0 ? ` [${a.tags.join(', ')}]` : ''
  const replicas = a.replicas > 0 ? ` (asks for ${a.replicas} replicas)` : ''
  return `${new Date(a.time).toISOString()} ${a.publisher} published ${a.name} ${a.cid} (${formatBytes(a.size)})${tags}${replicas}`
}

function nameLine (u: NameUpdate): string {
  return `${new Date(u.time).toISOString()} /ipns/${u.name} -> ${u.value} (sequence ${u.sequence}, from ${u.source})`
}

export function register (command: Command): void {
  command
    .option('--count <n>', 'stop after this many announcements and name updates', positiveInt)
    .action(withApi('watch', ['watch', 'watchNames'], async (api, globals) => {
      const count: number = globals.count ?? Infinity
      const controller = new AbortController()
      const stop = (): void => { controller.abort() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      let seen = 0
      // announcements and name updates side by side, each line as it comes; with --json a name
      // update is told apart by its "sequence"
      const print = (line: string, json: unknown): void => {
        if (seen >= count) return
        process.stdout.write((globals.json === true ? JSON.stringify(json) : line) + '\n')
        if (++seen >= count) controller.abort()
      }
      try {
        await Promise.all([
          (async () => { for await (const a of api.watch({ signal: controller.signal })) print(announcementLine(a), a) })(),
          (async () => { for await (const u of api.watchNames({ signal: controller.signal })) print(nameLine(u), u) })()
        ])
      } catch (err: any) {
        if (!controller.signal.aborted) throw err
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        controller.abort()
      }
    }))
}
