import { duration, withApi } from '../context.js'
import { printResult } from '../output.js'
import type { NameResult } from '../../interface/types.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  const name = command
  name.command('publish <cid>')
    .description('point a name at a CID (or /ipfs/CID/path): a new signed record, pushed to the swarm and put in the DHT when the daemon runs')
    .option('--key <name>', 'the key whose name to publish (default: self, the peer\'s own)')
    .option('--lifetime <duration>', 'how long the record is valid, such as 48h (default: the config\'s names.lifetimeMs)', duration)
    .option('--ttl <duration>', 'how long readers may cache it, such as 1m (default: the config\'s names.ttlMs)', duration)
    .action(withApi('name publish', ['namePublish'], async (api, globals, [value]) => {
      const r = await api.namePublish(value ?? '', { key: globals.key, lifetimeMs: globals.lifetime, ttlMs: globals.ttl })
      printResult(globals, describe(r, 'published'), r)
    }))
  name.command('resolve <name>')
    .description('what a name (k51... or /ipns/k51...) points to now')
    .action(withApi('name resolve', ['nameResolve'], async (api, globals, [n]) => {
      const r = await api.nameResolve(n ?? '')
      printResult(globals, r.value, r)
    }))
}

export function describe (r: NameResult, verb: string): string[] {
  return [
    `${verb} /ipns/${r.name} -> ${r.value} (sequence ${r.sequence}, valid until ${new Date(r.validUntil).toISOString()})`,
    ...(r.gossiped != null ? [`pushed to ${r.gossiped} peer(s), put in the DHT on ${r.dhtPeers ?? 0}`] : [])
  ]
}
