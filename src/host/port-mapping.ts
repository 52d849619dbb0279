/**
 * Port mapping: this peer asks its router to forward its TCP port from outside, with UPnP IGD or,
 * where no IGD answers, NAT-PMP at the default gateway. The outside address of each mapping goes
 * to libp2p's address manager as confirmed, so the NAT service (nat.ts) calls the peer public and
 * its DHT turns server. Mappings are renewed before they lapse and removed when the peer stops.
 *
 * The mapping itself is `@achingbrain/nat-port-mapper`. `@libp2p/upnp-nat`, which wraps it, is
 * not used: it refuses every gateway whose outside address is private (it takes one for a second
 * NAT beyond the router), with no way to say that a range stands for the internet. Here
 * `nat.publicRanges` says so, as it does for the reachability verdict.
 */
import fs from 'node:fs/promises'
import { isIPv4 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { ranges } from './cidr.js'
import { isGlobal } from './reachability.js'
import type { ComponentLogger, Libp2pEvents, Logger, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, TransportManager } from '@libp2p/interface-internal'
import type { Gateway, PortMapping as Mapping } from '@achingbrain/nat-port-mapper'

const second = 1000
const minute = 60 * second
/** How long a router keeps a mapping before it must be renewed (the library renews it) */
const MAPPING_TTL = 30 * minute
/** How long one search for a gateway waits for answers */
const SEARCH_TIME = 5 * second
/** Wait before searching again when no gateway answered or none would map */
const RETRY = 5 * minute

export interface PortMappingInit {
  /** `nat.publicRanges`: outside addresses in these count as public, as globally routable ones do */
  publicRanges?: string[]
  /** @default 5 minutes */
  retryMs?: number
  /** Told of each outside IP mapped (with when its lease ends) and unmapped (undefined) */
  onMapped?: (ip: string, until: number | undefined) => void
}

export interface PortMappingStatus {
  /** The gateway that holds this peer's mappings (`upnp:HOST:PORT` or `nat-pmp:HOST`) */
  gateway?: string
  /** Outside addresses mapped to this peer, as `IP:PORT` */
  mapped: string[]
  /** Why nothing is mapped, when nothing is */
  problem?: string
}

export interface PortMappingService {
  status(): PortMappingStatus
}

export interface PortMappingComponents {
  addressManager: AddressManager
  transportManager: TransportManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** The default IPv4 gateway, from the kernel's routing table (Linux); undefined elsewhere */
async function defaultGateway (): Promise<string | undefined> {
  const table = await fs.readFile('/proc/net/route', 'utf8').catch(() => '')
  for (const line of table.split('\n').slice(1)) {
    const [, destination, gateway] = line.trim().split(/\s+/)
    if (destination !== '00000000' || gateway == null || gateway === '00000000') continue
    const n = Number.parseInt(gateway, 16)
    // the table holds it in host (little-endian) order
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.')
  }
}

class PortMapper implements Startable, PortMappingService {
  private readonly components: PortMappingComponents
  private readonly log: Logger
  private readonly isPublic: (ip: string) => boolean
  private readonly retryMs: number
  private readonly onMapped: (ip: string, until: number | undefined) => void
  private gateway?: Gateway
  private gatewayName?: string
  private readonly mappings: Array<{ internal: { host: string, port: number }, mapping: Mapping }> = []
  private problem?: string
  private controller?: AbortController
  private timer?: ReturnType<typeof setTimeout>

  constructor (components: PortMappingComponents, init: PortMappingInit) {
    this.components = components
    this.log = components.logger.forComponent('shoal:port-mapping')
    const publicRanges = ranges(init.publicRanges ?? [])
    this.isPublic = (ip) => publicRanges.has(ip) || isGlobal(ip)
    this.retryMs = init.retryMs ?? RETRY
    this.onMapped = init.onMapped ?? (() => {})
  }

  readonly [Symbol.toStringTag] = 'shoal:port-mapping'

  status (): PortMappingStatus {
    return {
      ...(this.gatewayName != null ? { gateway: this.gatewayName } : {}),
      mapped: this.mappings.map(m => `${m.mapping.externalHost}:${m.mapping.externalPort}`),
      ...(this.problem != null ? { problem: this.problem } : {})
    }
  }

  /** Sockets are bound after services start: map once the first one listens */
  private readonly onListening = (): void => {
    this.components.events.removeEventListener('transport:listening', this.onListening)
    this.attempt()
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
    this.components.events.addEventListener('transport:listening', this.onListening)
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('transport:listening', this.onListening)
    this.controller?.abort()
    clearTimeout(this.timer)
    await this.release()
  }

  /** Map now; when that maps nothing, again after the retry wait */
  private attempt (): void {
    const signal = this.controller?.signal
    if (signal == null || signal.aborted) return
    this.mapAll(signal).then((problem) => {
      this.problem = problem
      if (problem != null) {
        this.log('nothing mapped: %s; again in %d s', problem, this.retryMs / second)
        this.timer = setTimeout(() => { this.attempt() }, this.retryMs)
      }
    }, (err: Error) => {
      if (signal.aborted) return
      this.problem = err.message
      this.log.error('port mapping failed - %e', err)
      this.timer = setTimeout(() => { this.attempt() }, this.retryMs)
    })
  }

  /** Find a gateway and map every TCP address this peer listens on; returns why nothing was mapped */
  private async mapAll (signal: AbortSignal): Promise<string | undefined> {
    const targets = this.listenAddresses()
    if (targets.length === 0) return 'no IPv4 TCP address to map'
    const gateway = await this.findGateway(signal)
    if (gateway == null) return 'no UPnP or NAT-PMP gateway answered'
    const outside = await gateway.externalIp({ signal })
    if (!this.isPublic(outside)) {
      await gateway.stop().catch(() => {})
      return `gateway ${gateway.host}'s outside address ${outside} is private (another NAT lies beyond it; nat.publicRanges can say that range is the internet)`
    }
    this.gateway = gateway
    for (const internal of targets) {
      const mapping = await gateway.map(internal.port, internal.host, { protocol: 'TCP', ttl: MAPPING_TTL, autoRefresh: true, description: 'shoal', signal })
      this.mappings.push({ internal, mapping })
      const { addressManager } = this.components
      addressManager.addPublicAddressMapping(internal.host, internal.port, mapping.externalHost, mapping.externalPort, 'tcp')
      addressManager.confirmObservedAddr(multiaddr(`/ip4/${mapping.externalHost}/tcp/${mapping.externalPort}`), { ttl: MAPPING_TTL })
      // the library renews the lease while the peer runs; the confirmation lasts as long
      this.onMapped(mapping.externalHost, Number.MAX_SAFE_INTEGER)
      this.log('mapped %s:%d to %s:%d on %s', internal.host, internal.port, mapping.externalHost, mapping.externalPort, this.gatewayName)
    }
    // the address manager announces the confirmed addresses (self:peer:update), where the NAT
    // service reads them
    return undefined
  }

  /** IPv4 TCP addresses this peer listens on that a router could forward to (not loopback or link-local) */
  private listenAddresses (): Array<{ host: string, port: number }> {
    const out: Array<{ host: string, port: number }> = []
    // what the sockets are bound to: the address manager's lists are already filtered down to
    // what is worth announcing, which an inside address is not
    for (const ma of this.components.transportManager.getAddrs()) {
      const [ip, tcp, ...rest] = ma.getComponents()
      if (ip?.name !== 'ip4' || tcp?.name !== 'tcp' || rest.some(c => c.name !== 'p2p') || ip.value == null) continue
      if (!isIPv4(ip.value) || ip.value.startsWith('127.') || ip.value.startsWith('169.254.')) continue
      const port = Number(tcp.value)
      if (!out.some(o => o.host === ip.value && o.port === port)) out.push({ host: ip.value, port })
    }
    return out
  }

  /** The first IPv4 UPnP IGD to answer a search, else NAT-PMP at the default gateway if it answers */
  private async findGateway (signal: AbortSignal): Promise<Gateway | undefined> {
    const { upnpNat, pmpNat } = await import('@achingbrain/nat-port-mapper')
    const search = AbortSignal.any([signal, AbortSignal.timeout(SEARCH_TIME)])
    try {
      for await (const gateway of upnpNat().findGateways({ signal: search })) {
        if (gateway.family !== 'IPv4') continue
        this.gatewayName = `upnp:${gateway.host}:${gateway.port}`
        return gateway
      }
    } catch (err: any) {
      if (signal.aborted) throw err
    }
    const router = await defaultGateway()
    if (router == null) return undefined
    const pmp = pmpNat(router)
    try {
      await pmp.externalIp({ signal: AbortSignal.any([signal, AbortSignal.timeout(SEARCH_TIME)]) })
    } catch {
      await pmp.stop().catch(() => {})
      return undefined
    }
    this.gatewayName = `nat-pmp:${router}`
    return pmp
  }

  /** Remove every mapping, at the router and from the address manager */
  private async release (): Promise<void> {
    for (const { internal, mapping } of this.mappings.splice(0)) {
      this.components.addressManager.removePublicAddressMapping(internal.host, internal.port, mapping.externalHost, mapping.externalPort, 'tcp')
      this.onMapped(mapping.externalHost, undefined)
    }
    // the library unmaps what it mapped
    await this.gateway?.stop().catch((err: Error) => { this.log.error('unmapping failed - %e', err) })
    this.gateway = undefined
  }
}

export function portMapping (init: PortMappingInit = {}): (components: PortMappingComponents) => PortMappingService {
  return (components) => new PortMapper(components, init)
}
