import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { GONE_AFTER_BEATS, second } from '../constants.js'
import type { Exchange } from '../exchange/index.js'
import type { Gossip } from '../gossip/index.js'
import type { Host } from '../host/index.js'
import type { PeerId, PeerInfo } from '@libp2p/interface'

/** Direct neighbours a peer dials members to reach */
const MIN_SWARM_PEERS = 8
/** Known peers dialled at start at most */
const MAX_RECONNECT = 32
/** Member dials in flight at once */
const MAX_MEETING = 2
/** Dials to silent members in flight at once */
const MAX_REJOINING = 4

export interface NeighboursComponents {
  peerId: PeerId
  host: Pick<Host, 'getPeers' | 'getConnections' | 'peerStore' | 'dial' | 'logger' | 'services' | 'addEventListener' | 'removeEventListener'>
  /** The members to dial, and their beats */
  gossip: Pick<Gossip, 'members' | 'addEventListener' | 'removeEventListener'>
  /** Blocks that flow say a member is alive */
  exchange: Pick<Exchange, 'lastHeard'>
}

export interface NeighboursInit {
  /** The presence heartbeat period, ms */
  presenceIntervalMs: number
  /** The longest a dial may take, ms */
  dialTimeoutMs: number
}

/**
 * Keeps this peer connected to the swarm: while it has fewer than MIN_SWARM_PEERS direct
 * neighbours it dials peers known from earlier runs (at start), members and discovered peers it
 * hears of (`meet`), and members that went silent (`rejoin`, once a heartbeat period between
 * `start` and `stop`).
 */
export class Neighbours {
  private readonly components: NeighboursComponents
  private readonly init: NeighboursInit
  private readonly meeting = new Set<string>()
  private readonly rejoining = new Set<string>()
  private rejoinTimer?: ReturnType<typeof setInterval>
  private stopped = true

  constructor (components: NeighboursComponents, init: NeighboursInit) {
    this.components = components
    this.init = init
  }

  private readonly onBeat = (evt: CustomEvent<{ peerId: string, addresses: string[] }>): void => {
    this.meet(evt.detail.peerId, evt.detail.addresses)
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    this.meet(evt.detail.id.toString(), evt.detail.multiaddrs.map(a => a.toString()))
  }

  /**
   * Dial peers known from earlier runs, then members as they beat and peers as they are
   * discovered (mDNS on a LAN, the DHT); the peer store only reports peers new to it, so those
   * known from earlier runs are dialled once here
   */
  start (): void {
    this.stopped = false
    this.components.gossip.addEventListener('member:beat', this.onBeat)
    this.components.host.addEventListener('peer:discovery', this.onDiscovery)
    this.rejoinTimer = setInterval(() => { this.rejoin() }, this.init.presenceIntervalMs)
    void this.reconnectKnown()
  }

  stop (): void {
    this.stopped = true
    this.components.gossip.removeEventListener('member:beat', this.onBeat)
    this.components.host.removeEventListener('peer:discovery', this.onDiscovery)
    clearInterval(this.rejoinTimer)
  }

  /**
   * Members heard of only through others get dialled until this peer has MIN_SWARM_PEERS direct
   * neighbours: a gossip mesh needs several, and a swarm that hangs off one bootstrap peer falls
   * apart with it
   */
  meet (peerId: string, addrs: string[]): void {
    const host = this.components.host
    if (this.stopped || addrs.length === 0 || this.meeting.size >= MAX_MEETING) return
    if (host.getPeers().length >= MIN_SWARM_PEERS || this.meeting.has(peerId)) return
    let id: PeerId
    try {
      id = peerIdFromString(peerId)
    } catch {
      return
    }
    if (id.equals(this.components.peerId) || host.getConnections(id).length > 0) return
    this.meeting.add(peerId)
    const log = host.logger.forComponent('shoal:peer')
    void (async () => {
      await host.peerStore.merge(id, { multiaddrs: addrs.map(a => multiaddr(a)) })
      await host.dial(id, { signal: AbortSignal.timeout(10 * second) })
    })().catch((err) => { log('could not meet member %s: %s', peerId, err.message) }).finally(() => { this.meeting.delete(peerId) })
  }

  /** Dial peers remembered from earlier runs, newest first, until there are enough neighbours */
  private async reconnectKnown (): Promise<void> {
    const host = this.components.host
    const log = host.logger.forComponent('shoal:peer')
    try {
      const known = (await host.peerStore.all()).filter(p => p.addresses.length > 0 && !p.id.equals(this.components.peerId))
      for (const p of known.slice(0, MAX_RECONNECT)) {
        if (this.stopped || host.getPeers().length >= MIN_SWARM_PEERS) return
        if (host.getConnections(p.id).length > 0) continue
        await host.dial(p.id, { signal: AbortSignal.timeout(5 * second) }).catch((err) => { log('known peer %p did not answer: %s', p.id, err.message) })
      }
    } catch (err: any) {
      log('could not reconnect to known peers: %s', err.message)
    }
  }

  /**
   * Members that went silent (suspect or gone, not yet forgotten) are dialled again once a
   * heartbeat period while this peer has fewer than MIN_SWARM_PEERS neighbours. Their beats
   * cannot tell us they are back, so without this the two halves of a healed partition stay
   * apart until the DHT happens to connect them.
   */
  private rejoin (): void {
    const { host, gossip } = this.components
    if (host.getPeers().length >= MIN_SWARM_PEERS) return
    const log = host.logger.forComponent('shoal:peer')
    for (const m of gossip.members()) {
      if (this.rejoining.size >= MAX_REJOINING) return
      if (m.self === true || m.state === 'alive' || m.addresses.length === 0 || this.rejoining.has(m.peerId)) continue
      let id: PeerId
      try {
        id = peerIdFromString(m.peerId)
      } catch {
        continue
      }
      // connected but silent for 2.5 periods: the connection may be dead (a partition leaves TCP
      // backing off for minutes); a ping tells, and a dead one is dropped and dialled afresh. A
      // connection younger than that is left alone: the member may have just restarted, and its
      // first beats are still to come
      const quietSince = Date.now() - GONE_AFTER_BEATS * this.init.presenceIntervalMs
      const all = host.getConnections(id)
      const connections = all.filter(c => c.timeline.open < quietSince)
      if (all.length > connections.length) continue
      // blocks still flow from or to it: its beats wait behind them on a saturated link
      if (connections.length > 0 && (this.components.exchange.lastHeard(m.peerId) ?? 0) >= quietSince) continue
      if (connections.length > 0 && m.state !== 'gone') continue
      const timeoutMs = Math.min(this.init.dialTimeoutMs, Math.max(2 * this.init.presenceIntervalMs, 2 * second))
      this.rejoining.add(m.peerId)
      void (async () => {
        if (connections.length > 0) {
          try {
            await host.services.ping.ping(id, { signal: AbortSignal.timeout(timeoutMs) })
            return
          } catch {
            // exchange traffic during the ping says it is alive after all
            if ((this.components.exchange.lastHeard(m.peerId) ?? 0) >= quietSince) return
            for (const c of connections) c.abort(new Error('member silent and ping unanswered'))
          }
        }
        await host.peerStore.merge(id, { multiaddrs: m.addresses.map(a => multiaddr(a)) })
        // a short timeout: the next period tries again
        await host.dial(id, { signal: AbortSignal.timeout(timeoutMs) })
        log('rejoined silent member %s', m.peerId)
      })().catch(() => {}).finally(() => { this.rejoining.delete(m.peerId) })
    }
  }
}
