import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { InvalidConfigError } from '../errors.js'
import { isName } from '../names.js'
import { validateConfig } from './config-checks.js'
import type { Encrypter } from '../host/encrypters.js'
import type { NatInit, RelayInit } from '../host/index.js'

/** A peer's config.json, after defaults are filled in and every field is checked */
export interface Config {
  /** Name of the swarm this config joins; it names the gossip topics and the rendezvous key */
  swarm: string
  /**
   * Pre-shared key file of a private swarm (`shoal swarm keygen`), relative to the repo when
   * not absolute; empty for an open swarm. Only holders of the key can connect.
   */
  swarmKey: string
  /** How peers of the swarm find one another besides `bootstrap` */
  discovery: {
    /** Multicast DNS on the LAN */
    mdns: boolean
    /** Provide and look up the swarm's rendezvous key in the DHT, and dial who is found */
    rendezvous: boolean
    /** How often the rendezvous key is looked up again */
    rendezvousIntervalMs: number
  }
  addresses: {
    /** Multiaddrs to listen on; port 0 picks a free port */
    listen: string[]
    /** Multiaddrs to announce instead of the listen addresses, when set */
    announce: string[]
  }
  api: {
    /** HOST:PORT of the control API; the host must be a loopback address */
    address: string
  }
  /** HTTP gateway (docs/gateway.md) */
  gateway: {
    /** Serve the gateway when the daemon runs */
    enabled: boolean
    /** HOST:PORT to serve it on; any host (it serves content only), port 0 picks a free one */
    address: string
    /** How long a request may wait for content before it is answered 504 */
    retrievalTimeoutMs: number
    /** Requests served at once; more are answered 429 */
    maxConcurrentRequests: number
  }
  /** Prometheus metrics at /metrics on the control API port */
  metrics: {
    enabled: boolean
  }
  /** Multiaddrs (with /p2p/) of peers to dial at start */
  bootstrap: string[]
  /**
   * Connection encrypters in order of preference (`noise`, `tls`): a dial proposes the first and
   * falls back to the next the other side speaks
   */
  encrypters: Encrypter[]
  limits: {
    maxConnections: number
    maxIncomingPendingConnections: number
    /** Inbound connections accepted per second from one host */
    inboundConnectionThreshold: number
    dialTimeoutMs: number
  }
  dht: {
    protocol: string
    /**
     * `auto`: where the swarm spans the internet (`nat.publicRanges` set, or `peerAddresses`
     * public), a DHT server only while this peer is publicly reachable (`shoal id` says so), a
     * client otherwise; on a LAN, a server. `false` forces server mode, `true` client mode
     */
    clientMode: boolean | 'auto'
    /** Which peer addresses the DHT keeps: `public` (internet), `private` (LAN) or `all` */
    peerAddresses: 'public' | 'private' | 'all'
    /** Provider records this peer holds are provided again when older than this */
    reprovideIntervalMs: number
    /** How long a provider record is valid, ours on other peers and others' here */
    recordLifetimeMs: number
  }
  /** Gossip topics `shoal/<swarm>/presence`, `/announce` and `/replicate` */
  gossip: {
    /** Presence heartbeat period; a member missing beats turns suspect, then gone */
    presenceIntervalMs: number
    /**
     * Global beats a period the whole swarm sends (so each peer receives): each peer's global
     * period is max(1, swarm size / budget) periods, from its estimate of the swarm's size; 0 for
     * the first design (every beat to every member, every period)
     */
    presenceBudget: number
    /**
     * IP addresses exempt from gossipsub's IP colocation penalty (many peers behind one
     * address, such as a local test swarm on 127.0.0.1)
     */
    colocationWhitelist: string[]
  }
  /** Push CDN: fetch, pin and provide content others announce */
  replicate: {
    enabled: boolean
    /** Only content announced with one of these tags; empty for any */
    tags: string[]
    /** Largest content to replicate, bytes; 0 for no limit */
    maxFileSize: number
    /** Bytes of replicated content this peer keeps in all; 0 for no limit */
    maxTotalBytes: number
    /** IPNS names (`k51...`) whose every new version this peer fetches and pins (docs/names.md) */
    follow: string[]
    /** Versions kept of each followed name; older ones are unpinned */
    keepVersions: number
  }
  /** Signed mutable names (docs/names.md) */
  names: {
    /** How long a record published here is valid */
    lifetimeMs: number
    /** How long readers may cache a record published here (the gateway's Cache-Control) */
    ttlMs: number
    /** How often this peer's own records are put in the DHT again */
    republishIntervalMs: number
    /** Push and take records on the swarm's names topic; off, names travel by the DHT alone */
    gossip: boolean
  }
  store: {
    fsync: boolean
    /** Bytes the store may hold; unpinned cached content is evicted beyond it, least recently used first; 0 for no limit */
    quota: number
  }
  publish: {
    profile: string
  }
  /** Reachability and NAT traversal (docs/public-swarm.md) */
  nat: NatInit
  /** Circuit relay v2 (docs/public-swarm.md) */
  relay: RelayInit
  /** Block exchange (docs/exchange.md) */
  exchange: {
    /** Peers served at once; others are told BUSY */
    uploadSlots: number
    /** Upload cap, bytes per second; 0 for none */
    uploadRate: number
    /** Download cap, bytes per second; 0 for none */
    downloadRate: number
    /** Inbound exchange streams in all */
    maxInboundStreams: number
    /** Requests a client may have in flight on one stream */
    maxRequestsPerStream: number
    /** Answer the raw-throughput probe `/shoal/perf/1.0.0` (benchmarks, diagnosis) */
    perf: boolean
    /** Serve blocks over bitswap to IPFS nodes (docs/interop.md) */
    bitswap: boolean
  }
}

/** configs/ in the installed package */
export const CONFIGS_DIR = fileURLToPath(new URL('../../../configs/', import.meta.url))

/** The config a new repo starts from */
export async function defaultConfigText (): Promise<string> {
  return fs.readFile(new URL('default.json', `file://${CONFIGS_DIR}`), 'utf8')
}

/**
 * A swarm's config: `NAME` is `configs/NAME.json` (default, local, public, ...), anything with a
 * `/` or ending in `.json` a file path. Returns its text and where it came from.
 */
export async function swarmConfigText (nameOrPath: string): Promise<{ text: string, source: string }> {
  const isPath = nameOrPath.includes('/') || nameOrPath.endsWith('.json')
  if (!isPath && !isName(nameOrPath)) {
    throw new InvalidConfigError(`invalid swarm "${nameOrPath}": give a name from configs/ or a config file path`)
  }
  const source = isPath ? nameOrPath : `${CONFIGS_DIR}${nameOrPath}.json`
  try {
    return { text: await fs.readFile(source, 'utf8'), source }
  } catch (err: any) {
    if (err.code === 'ENOENT' && !isPath) {
      const names = (await fs.readdir(CONFIGS_DIR).catch(() => [] as string[])).filter(f => f.endsWith('.json')).map(f => f.slice(0, -5))
      throw new InvalidConfigError(`no swarm "${nameOrPath}": known swarms are ${names.join(', ')}, or give a config file path`)
    }
    throw new InvalidConfigError(`cannot read config file ${source}: ${err.code ?? err.message}`)
  }
}

/**
 * Add the sections and keys a config written by an earlier shoal lacks, with their values from
 * `defaults` (configs/default.json); nothing present is changed. Returns the keys added.
 */
export function addMissingDefaults (raw: unknown, defaults: Record<string, unknown>): string[] {
  const added: string[] = []
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) return added
  const obj = raw as Record<string, unknown>
  for (const [key, value] of Object.entries(defaults)) {
    if (!Object.hasOwn(obj, key)) {
      obj[key] = structuredClone(value)
      added.push(key)
      continue
    }
    const section = obj[key]
    if (value == null || typeof value !== 'object' || Array.isArray(value)) continue
    if (section == null || typeof section !== 'object' || Array.isArray(section)) continue
    for (const [sub, subValue] of Object.entries(value)) {
      if (!Object.hasOwn(section, sub)) {
        (section as Record<string, unknown>)[sub] = structuredClone(subValue)
        added.push(`${key}.${sub}`)
      }
    }
  }
  return added
}

/** Parse and check a config file's text; `source` names it in errors */
export function parseConfig (text: string, source: string): Config {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err: any) {
    throw new InvalidConfigError(`${source} is not valid JSON (${String(err.message).split('\n')[0]}): fix it, or move it aside and run "shoal init"`)
  }
  return validateConfig(raw, source)
}

/**
 * Parse every multiaddr of a config (addresses to listen on and announce, bootstrap peers, which
 * must name their peer id). A peer checks them as it goes online: the multiaddr code is not
 * loaded by commands that only read the repo, whose config was checked in every other way.
 */
export async function checkAddresses (config: Config, source: string): Promise<void> {
  const { multiaddr } = await import('@multiformats/multiaddr')
  const lists: Array<[string, string[], boolean]> = [
    ['addresses.listen', config.addresses.listen, false],
    ['addresses.announce', config.addresses.announce, false],
    ['bootstrap', config.bootstrap, true],
    ['relay.relays', config.relay.relays, true]
  ]
  for (const [key, list, needsPeer] of lists) {
    for (const a of list) {
      let ma
      try {
        ma = multiaddr(a)
      } catch {
        throw new InvalidConfigError(`${source}: ${key} has an invalid multiaddr "${a}"`)
      }
      if (needsPeer && !ma.getComponents().some(c => c.name === 'p2p')) throw new InvalidConfigError(`${source}: ${key} entry "${a}" needs a /p2p/<peer id> part`)
    }
  }
}
