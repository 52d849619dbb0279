import fs from 'node:fs/promises'
import path from 'node:path'
import { InvalidArgumentError } from '../../errors.js'
import { collect, duration, nonNegativeInt, withApi } from '../context.js'
import { formatBytes, printResult, progressBar } from '../output.js'
import type { ImportEntry } from '../../interface/types.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--profile <name>', 'CID profile: unixfs-v1-2025 (default) or unixfs-v0-2015 (Kubo\'s legacy CIDs)')
    .option('--name <name>', 'name for stdin input', 'stdin')
    .option('--no-pin', 'do not pin the root (gc may remove it)')
    .option('--no-announce', 'do not announce it to the swarm (it is still provided in the DHT)')
    .option('--tag <tag>', 'tag the announcement (repeatable; replication policies select by tag)', collect)
    .option('--replicas <n>', 'ask the swarm for N copies: volunteers with room are assigned and fetch it', nonNegativeInt)
    .option('--key <name>', 'then point the name of this key ("self" for the peer\'s own) at it')
    .option('--lifetime <duration>', 'with --key: how long the record is valid, such as 48h', duration)
    .option('--ttl <duration>', 'with --key: how long readers may cache it, such as 1m', duration)
    .action(withApi('publish', ['publish', 'namePublish'], async (api, globals, [target]) => {
      if (globals.key == null && (globals.lifetime != null || globals.ttl != null)) {
        throw new InvalidArgumentError('--lifetime and --ttl go with --key: they are the name record\'s')
      }
      let entries: AsyncIterable<ImportEntry>
      let total: number | undefined
      if (target === '-') {
        const name = String(globals.name)
        if (name.includes('/') || name === '.' || name === '..' || name === '') {
          throw new InvalidArgumentError(`invalid --name "${name}": a name has no "/"`)
        }
        entries = (async function * () { yield { path: name, kind: 'file' as const, content: process.stdin } })()
      } else {
        const { fsSource } = await import('../../content/fs-source.js')
        entries = await fsSource(target ?? '', {
          onSkip: (p) => { process.stderr.write(`shoal: warning: left out ${p}: a socket, FIFO or device has no UnixFS form\n`) }
        })
        total = await sizeOf(target ?? '')
      }
      const bar = progressBar(globals, total, 'publish')
      try {
        const result = await api.publish(entries, {
          profile: globals.profile,
          pin: globals.pin !== false,
          announce: globals.announce !== false,
          tags: globals.tag,
          replicas: globals.replicas,
          onProgress: (e) => { bar.update(e.bytes) }
        })
        bar.stop()
        // the name is published once the content is stored and pinned, so it never points at
        // what this peer cannot serve
        const named = globals.key != null
          ? await api.namePublish(result.cid, { key: globals.key, lifetimeMs: globals.lifetime, ttlMs: globals.ttl })
          : undefined
        if (named != null) result.ipns = named
        printResult(globals, [
          `published ${result.name} ${result.cid} (${formatBytes(result.size)})`,
          ...(result.announced != null ? [`announced to ${result.announced} peer(s)`] : []),
          ...(named != null ? (await import('./name.js')).describe(named, 'published') : []),
          ...(result.assigned != null ? [`replicas: ${result.assigned.length} of ${String(globals.replicas)} assigned${result.assigned.length > 0 ? ` (${result.assigned.join(', ')})` : ''}`] : [])
        ], result)
      } finally {
        bar.stop()
      }
    }))
}

/** Bytes under a path, for the progress bar's total; a symlink is followed at the top only, as publish does */
async function sizeOf (p: string, top = true): Promise<number> {
  const st = top ? await fs.stat(p) : await fs.lstat(p)
  if (!st.isDirectory()) return st.isFile() ? st.size : 0
  let total = 0
  for (const child of await fs.readdir(p)) total += await sizeOf(path.join(p, child), false)
  return total
}
