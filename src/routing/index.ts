/**
 * Content routing over the Kademlia DHT: provide a root, find who provides one, and the swarm
 * rendezvous (peers of a swarm provide and look up one key derived from its name).
 */
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { BOOTSTRAP_RETRY_INTERVAL, BOOTSTRAP_MAX_RETRY_INTERVAL, DEFAULT_FIND_PROVIDERS_LIMIT, DEFAULT_FIND_TIMEOUT, RENDEZVOUS_DIAL_LIMIT } from '../constants.js'
import { BootstrapKeeper } from './bootstrap.js'
import { Rendezvous } from './rendezvous.js'
import type { AbortOptions, ComponentLogger, Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface RoutingComponents {
  dht: Pick<KadDHT, 'provide' | 'findProviders'>
  host: Pick<Libp2p, 'peerId' | 'peerStore' | 'dial' | 'getConnections' | 'getPeers'>
  logger: ComponentLogger
}

export interface RoutingInit {
  /** Name of the swarm whose rendezvous key is provided and looked up */
  swarm: string
  /**
   * Provide and look up the rendezvous key, and dial the swarm peers found
   * @default false
   */
  rendezvous?: boolean
  /**
   * How often the rendezvous key is looked up again
   * @default 5 minutes
   */
  rendezvousIntervalMs?: number
  /**
   * Bootstrap multiaddrs, dialled again whenever this peer has no connection
   * @default []
   */
  bootstrap?: string[]
}

export interface Provider {
  id: PeerId
  multiaddrs: Multiaddr[]
}

export interface FindOptions extends AbortOptions {
  /**
   * Stop after this many providers
   * @default 20
   */
  limit?: number
  /**
   * Give up after this long
   * @default 30 seconds
   */
  timeoutMs?: number
}

export interface Routing {
  start(): Promise<void>
  stop(): Promise<void>
  /** Provide a CID; resolves with how many DHT peers accepted the record */
  provide(cid: CID, options?: AbortOptions): Promise<{ accepted: number }>
  /**
   * Providers of a CID as they are found, never this peer, each once; their addresses are
   * added to the peer store so they can be dialled by id
   */
  findProviders(cid: CID, options?: FindOptions): AsyncGenerator<Provider>
  /** The swarm's rendezvous key */
  readonly rendezvousKey: Promise<CID>
  /** Why no bootstrap peer answered, while this peer has none connected and every dial failed */
  bootstrapProblem(): string | undefined
}

/** The key that peers of swarm `name` provide and look up to find one another */
export async function rendezvousKey (name: string): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`shoal/swarm/${name}`))
  return CID.createV1(raw.code, digest)
}

class DhtRouting implements Routing {
  private readonly components: RoutingComponents
  private readonly rendezvous?: Rendezvous
  private readonly keeper: BootstrapKeeper
  readonly rendezvousKey: Promise<CID>

  constructor (components: RoutingComponents, init: RoutingInit) {
    this.components = components
    this.rendezvousKey = rendezvousKey(init.swarm)
    this.keeper = new BootstrapKeeper({
      host: components.host,
      log: components.logger.forComponent('shoal:routing:bootstrap'),
      list: init.bootstrap ?? [],
      intervalMs: BOOTSTRAP_RETRY_INTERVAL,
      maxIntervalMs: BOOTSTRAP_MAX_RETRY_INTERVAL
    })
    if (init.rendezvous === true) {
      this.rendezvous = new Rendezvous({
        routing: this,
        host: components.host,
        log: components.logger.forComponent('shoal:routing:rendezvous'),
        intervalMs: init.rendezvousIntervalMs,
        dialLimit: RENDEZVOUS_DIAL_LIMIT
      })
    }
  }

  bootstrapProblem (): string | undefined {
    return this.keeper.problem
  }

  async start (): Promise<void> {
    this.keeper.start()
    this.rendezvous?.start()
  }

  async stop (): Promise<void> {
    this.keeper.stop()
    await this.rendezvous?.stop()
  }

  async provide (cid: CID, options: AbortOptions = {}): Promise<{ accepted: number }> {
    const accepted = new Set<string>()
    for await (const event of this.components.dht.provide(cid, options)) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') accepted.add(event.from.toString())
    }
    return { accepted: accepted.size }
  }

  async * findProviders (cid: CID, options: FindOptions = {}): AsyncGenerator<Provider> {
    const limit = options.limit ?? DEFAULT_FIND_PROVIDERS_LIMIT
    const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_FIND_TIMEOUT)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    const self = this.components.host.peerId
    const seen = new Set<string>()
    try {
      for await (const event of this.components.dht.findProviders(cid, { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) {
          const key = p.id.toString()
          if (p.id.equals(self) || seen.has(key)) continue
          seen.add(key)
          if (p.multiaddrs.length > 0) {
            await this.components.host.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
          }
          yield { id: p.id, multiaddrs: p.multiaddrs }
          if (seen.size >= limit) return
        }
      }
    } catch (err: any) {
      // running out of time is the end of the search, not an error; the caller's abort is
      if (options.signal?.aborted === true) throw err
      if (!timeout.aborted) throw err
    }
  }
}

export function createRouting (components: RoutingComponents, init: RoutingInit): Routing {
  return new DhtRouting(components, init)
}
