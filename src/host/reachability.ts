/**
 * Whether this peer can be dialled from the public internet, decided from what it is told, with
 * no I/O: the NAT service (nat.ts) feeds it identify's observed addresses and the addresses
 * AutoNAT or a UPnP/NAT-PMP mapping confirmed, and reads the verdict and the addresses worth
 * announcing.
 *
 * "Public space" is every globally routable address plus the ranges in `nat.publicRanges` (a lab
 * or a private WAN standing in for the internet). Only peers in public space are witnesses: what
 * a LAN neighbour observes says nothing about the internet.
 *
 * - `public`: an address was confirmed (AutoNAT, UPnP/NAT-PMP), or most witnesses observed this
 *   peer at an address it holds itself (nothing rewrote its packets on the way);
 * - `private`: most witnesses observed another address (a router rewrote the source: a NAT) and
 *   nothing was confirmed;
 * - `unknown`: no witness yet.
 */
import { isIP } from 'node:net'
import { ranges } from './cidr.js'
import type { Ranges } from './cidr.js'

export type Reachability = 'public' | 'private' | 'unknown'

/** Witnesses remembered, most recent first: a long-lived peer follows a change of network */
const MAX_WITNESSES = 16

/** Special-purpose IPv4 ranges (RFC 6890 and successors) that are not the public internet */
const NOT_GLOBAL_V4 = ranges([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
  '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/3'
])
/** IPv6: only global unicast (2000::/3) is public, less documentation and 6to4/Teredo-style ranges */
const GLOBAL_V6 = ranges(['2000::/3'])
const NOT_GLOBAL_V6 = ranges(['2001:db8::/32', '2001::/32', '2002::/16'])

/** Whether an IP is globally routable */
export function isGlobal (ip: string): boolean {
  const v = isIP(ip)
  if (v === 4) return !NOT_GLOBAL_V4.has(ip)
  if (v === 6) return GLOBAL_V6.has(ip) && !NOT_GLOBAL_V6.has(ip)
  return false
}

export interface ReachabilityInit {
  /** CIDRs that count as public besides globally routable addresses (`nat.publicRanges`) */
  publicRanges?: string[]
}

export class ReachabilityCore {
  private readonly publicRanges: Ranges
  /** witness peer id to whether it saw us at one of our own addresses */
  private readonly witnesses = new Map<string, boolean>()
  /** address (ip) to when its confirmation lapses */
  private readonly confirmed = new Map<string, number>()

  constructor (init: ReachabilityInit = {}) {
    this.publicRanges = ranges(init.publicRanges ?? [])
  }

  /** Whether an IP is on the public internet, or in a range configured to count as it */
  isPublicSpace (ip: string): boolean {
    return this.publicRanges.has(ip) || isGlobal(ip)
  }

  /**
   * A peer at `remoteIp`, on a direct (not relayed) connection, observed this peer at
   * `observedIp`; `ownIps` are the addresses of this host's interfaces. Returns whether it
   * counted (the peer is in public space).
   */
  observed (peer: string, remoteIp: string, observedIp: string, ownIps: readonly string[]): boolean {
    if (!this.isPublicSpace(remoteIp)) return false
    this.witnesses.delete(peer)
    this.witnesses.set(peer, ownIps.includes(observedIp))
    while (this.witnesses.size > MAX_WITNESSES) {
      const oldest = this.witnesses.keys().next().value
      if (oldest == null) break
      this.witnesses.delete(oldest)
    }
    return true
  }

  /** An address others could dial was confirmed (AutoNAT, a UPnP/NAT-PMP mapping) until `until` */
  confirm (ip: string, until: number): void {
    if (this.isPublicSpace(ip)) this.confirmed.set(ip, until)
  }

  /** A confirmation was withdrawn (the mapping was removed) */
  unconfirm (ip: string): void {
    this.confirmed.delete(ip)
  }

  /** Confirmed public IPs at `now` */
  confirmedIps (now: number): string[] {
    return [...this.confirmed].filter(([, until]) => until > now).map(([ip]) => ip)
  }

  verdict (now: number): Reachability {
    if (this.confirmedIps(now).length > 0) return 'public'
    if (this.witnesses.size === 0) return 'unknown'
    let direct = 0
    for (const sawOwn of this.witnesses.values()) if (sawOwn) direct++
    return direct * 2 >= this.witnesses.size ? 'public' : 'private'
  }

  /**
   * Of this peer's addresses (as `{ ip, circuit }`), those others on the internet can dial: the
   * public-space ones, unless the peer is private and they were not confirmed; relay
   * (`/p2p-circuit`) addresses unless the peer is public. Addresses without an IP (DNS names)
   * are kept.
   */
  dialable<T extends { ip?: string, circuit: boolean }> (addrs: readonly T[], now: number): T[] {
    const verdict = this.verdict(now)
    const confirmed = new Set(this.confirmedIps(now))
    return addrs.filter(a => {
      if (a.circuit) return verdict !== 'public'
      if (a.ip == null) return true
      if (!this.isPublicSpace(a.ip)) return false
      return verdict !== 'private' || confirmed.has(a.ip)
    })
  }
}
