/**
 * Limits of the relay service beside js-libp2p's own: its server bounds reservations in total
 * (`relay.maxReservations`) but not per IP, so one machine could take every slot with fresh peer
 * ids. The connection gater's `denyInboundRelayReservation` refuses a peer whose IP already holds
 * `relay.maxReservationsPerIp` reservations (a peer renewing its own is not counted against it).
 */
import type { Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface ReservationLimitInit {
  /** Reservations one IP may hold at once; 0 for no limit */
  maxPerIp: number
  /** The relay service's reservations now (its `reservations` map), undefined before it runs */
  reservations(): Iterable<[PeerId, { addr: Multiaddr }]> | undefined
  /** The connections to a peer */
  connections(peer: PeerId): Connection[]
}

function ipOf (ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0]
  return first != null && (first.name === 'ip4' || first.name === 'ip6') ? first.value : undefined
}

/** `denyInboundRelayReservation` for the connection gater: true refuses the reservation */
export function reservationsPerIp (init: ReservationLimitInit): (peer: PeerId) => Promise<boolean> {
  return async (peer) => {
    if (init.maxPerIp === 0) return false
    // the connection the request came over: a reservation is never made over a relayed one
    const direct = init.connections(peer).find(c => !c.remoteAddr.getComponents().some(p => p.name === 'p2p-circuit'))
    const ip = direct != null ? ipOf(direct.remoteAddr) : undefined
    if (ip == null) return false
    let held = 0
    for (const [holder, reservation] of init.reservations() ?? []) {
      if (!holder.equals(peer) && ipOf(reservation.addr) === ip) held++
    }
    return held >= init.maxPerIp
  }
}
