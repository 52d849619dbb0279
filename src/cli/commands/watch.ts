import { positiveInt, withApi } from '../context.js'
import { formatBytes } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--count <n>', 'stop after this many announcements', positiveInt)
    .action(withApi('watch', ['watch'], async (api, globals) => {
      const count: number = globals.count ?? Infinity
      const controller = new AbortController()
      const stop = (): void => { controller.abort() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      let seen = 0
      try {
        for await (const a of api.watch({ signal: controller.signal })) {
          if (globals.json === true) process.stdout.write(JSON.stringify(a) + '\n')
          else {
            const tags = a.tags.length > 0 ? ` [${a.tags.join(', ')}]` : ''
            const replicas = a.replicas > 0 ? ` (asks for ${a.replicas} replicas)` : ''
            process.stdout.write(`${new Date(a.time).toISOString()} ${a.publisher} published ${a.name} ${a.cid} (${formatBytes(a.size)})${tags}${replicas}\n`)
          }
          if (++seen >= count) break
        }
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        controller.abort()
      }
    }))
}
