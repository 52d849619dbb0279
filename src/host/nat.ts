/**
 * The NAT service: a libp2p service that says whether this peer is publicly reachable, filters
 * the addresses it announces down to those others can dial, and keeps the configured relays
 * connected so the relay transport can hold a reservation on one of them and move to another
 * when one goes away. The decision itself is `ReachabilityCore` (no I/O); this file feeds it
 * from libp2p's events and the interfaces' addresses.
 */
import { networkInterfaces } from 'node:os'
import { TypedEventEmitter } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { isGlobal, ReachabilityCore } from './reachability.js'
import type { Reachability } from './reachability.js'
import type { ComponentLogger, IdentifyResult, Libp2pEvents, Logger, Metrics, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export type { Reachability }

const second = 1000
/** Longest wait between two dials of a configured relay that is unreachable */
const MAX_RELAY_BACKOFF = 30 * second
const FIRST_RELAY_BACKOFF = 1 * second
/** How often confirmed addresses are read again (see `start`) */
const CONFIRMATION_POLL = 30 * second

export interface NatStatus {
  reachability: Reachability
  /** Relays this peer holds a reservation on (their peer ids) */
  relays: string[]
  /** Confirmed public IPs (AutoNAT, UPnP/NAT-PMP) */
  confirmed: string[]
}

export interface NatEvents {
  /** The verdict changed */
  'reachability': CustomEvent<Reachability>
}

export interface NatService extends TypedEventEmitter<NatEvents> {
  readonly reachability: Reachability
  status(): NatStatus
}

export interface NatInit {
  /** `nat.publicRanges` */
  publicRanges?: string[]
  /** `relay.relays`: relays kept connected */
  relays?: string[]
}

export interface NatComponents {
  events: TypedEventTarget<Libp2pEvents>
  addressManager: AddressManager
  connectionManager: ConnectionManager
  logger: ComponentLogger
  metrics?: Metrics
}

function ipOf (ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0]
  return first != null && (first.name === 'ip4' || first.name === 'ip6') ? first.value : undefined
}

function isCircuit (ma: Multiaddr): boolean {
  return ma.getComponents().some(c => c.name === 'p2p-circuit')
}

function peerOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}

function ownIps (): string[] {
  return Object.values(networkInterfaces()).flatMap(list => (list ?? []).map(i => i.address))
}

class Nat extends TypedEventEmitter<NatEvents> implements NatService, Startable {
  private readonly components: NatComponents
  private readonly core: ReachabilityCore
  private readonly log: Logger
  private readonly relays: Multiaddr[]
  private current: Reachability = 'unknown'
  private started = false
  private confirmations?: ReturnType<typeof setInterval>
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /** Configured relays being dialled (one dial loop each) */
  private readonly keeping = new Set<string>()

  constructor (components: NatComponents, core: ReachabilityCore, init: NatInit) {
    super()
    this.components = components
    this.core = core
    this.log = components.logger.forComponent('shoal:host:nat')
    this.relays = (init.relays ?? []).map(a => multiaddr(a))
    this.onIdentify = this.onIdentify.bind(this)
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    components.metrics?.registerMetricGroup('shoal_reachability', {
      help: 'This peer\'s reachability verdict: 1 for the current one',
      label: 'verdict',
      calculate: () => ({ public: this.current === 'public' ? 1 : 0, private: this.current === 'private' ? 1 : 0, unknown: this.current === 'unknown' ? 1 : 0 })
    })
  }

  readonly [Symbol.toStringTag] = 'shoal:nat'

  get reachability (): Reachability {
    return this.current
  }

  status (): NatStatus {
    const relays = new Set<string>()
    // unfiltered: a public peer holds reservations it does not announce
    for (const { multiaddr: a } of this.components.addressManager.getAddressesWithMetadata()) {
      if (!isCircuit(a)) continue
      // /ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/SELF: the relay is the first /p2p
      const relay = a.getComponents().find(c => c.name === 'p2p')?.value
      if (relay != null) relays.add(relay)
    }
    return { reachability: this.current, relays: [...relays], confirmed: this.core.confirmedIps(Date.now()) }
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    // an address AutoNAT confirms while the verdict is private is dropped by the announce filter,
    // so the address manager's list does not change and no self:peer:update says so: look again
    this.confirmations = setInterval(() => { this.onSelfUpdate() }, CONFIRMATION_POLL)
    this.confirmations.unref()
  }

  afterStart (): void {
    for (const relay of this.relays) this.keepRelay(relay, FIRST_RELAY_BACKOFF, 0)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    clearInterval(this.confirmations)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.keeping.clear()
  }

  /** Addresses others can dial, for libp2p's `announceFilter` */
  filter (addrs: Multiaddr[]): Multiaddr[] {
    return this.core.dialable(addrs.map(ma => ({ ma, ip: ipOf(ma), circuit: isCircuit(ma) })), Date.now()).map(a => a.ma)
  }

  private onIdentify (evt: CustomEvent<IdentifyResult>): void {
    const { connection, observedAddr, peerId } = evt.detail
    if (observedAddr == null || isCircuit(connection.remoteAddr)) return
    const remoteIp = ipOf(connection.remoteAddr)
    const observedIp = ipOf(observedAddr)
    if (remoteIp == null || observedIp == null) return
    if (this.core.observed(peerId.toString(), remoteIp, observedIp, ownIps())) {
      this.log('%p at %s observed us at %s', peerId, remoteIp, observedIp)
      this.update()
    }
  }

  /** Addresses confirmed by AutoNAT or mapped by UPnP/NAT-PMP (auto-confirmed) */
  private onSelfUpdate (): void {
    const now = Date.now()
    for (const a of this.components.addressManager.getAddressesWithMetadata()) {
      const ip = ipOf(a.multiaddr)
      // libp2p holds a private transport address verified without asking anyone: only a global one
      // was dialled back (AutoNAT v2)
      if (ip == null || isCircuit(a.multiaddr) || (a.type === 'transport' && !isGlobal(ip))) continue
      if (a.verified) this.core.confirm(ip, Math.max(a.expires, now + 60 * second))
    }
    this.update()
  }

  /** The verdict again, after the core was told something directly */
  refresh (): void {
    if (this.started) this.update()
  }

  private update (): void {
    const verdict = this.core.verdict(Date.now())
    if (verdict === this.current) return
    this.log('reachability %s -> %s', this.current, verdict)
    this.current = verdict
    this.safeDispatchEvent('reachability', { detail: verdict })
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const id = evt.detail.toString()
    for (const relay of this.relays) {
      if (peerOf(relay) === id) this.keepRelay(relay, FIRST_RELAY_BACKOFF, FIRST_RELAY_BACKOFF)
    }
  }

  /** Dial a configured relay after `delay`, and again with a doubling wait while it fails */
  private keepRelay (relay: Multiaddr, backoff: number, delay: number, again = false): void {
    const key = relay.toString()
    if (!this.started || (!again && this.keeping.has(key))) return
    this.keeping.add(key)
    const t = setTimeout(() => {
      this.timers.delete(t)
      if (!this.started) return
      this.components.connectionManager.openConnection(relay).then(() => {
        this.keeping.delete(key)
        this.log('connected to relay %a', relay)
      }, (err: Error) => {
        this.log('relay %a unreachable (%s), again in %d ms', relay, err.message, backoff)
        this.keepRelay(relay, Math.min(backoff * 2, MAX_RELAY_BACKOFF), backoff, true)
      })
    }, delay)
    this.timers.add(t)
  }
}

/**
 * The NAT service and its announce filter: the filter is handed to libp2p's address manager
 * before the service exists, so both share one core
 */
export function natService (init: NatInit = {}): {
  service: (components: NatComponents) => NatService
  announceFilter: (addrs: Multiaddr[]) => Multiaddr[]
  /** A port mapping made (`until` its lease ends) or removed (undefined) the outside address `ip` */
  mapped: (ip: string, until: number | undefined) => void
} {
  const core = new ReachabilityCore({ publicRanges: init.publicRanges })
  let nat: Nat | undefined
  return {
    service: (components) => {
      nat = new Nat(components, core, init)
      return nat
    },
    announceFilter: (addrs) => nat?.filter(addrs) ?? addrs,
    // told directly, not through the address manager: while the verdict is private its
    // announce filter drops the mapped address, so no self:peer:update would carry it
    mapped: (ip, until) => {
      if (until != null) core.confirm(ip, until)
      else core.unconfirm(ip)
      nat?.refresh()
    }
  }
}
