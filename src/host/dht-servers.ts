/**
 * Only DHT servers in the routing table. kad-dht adds to its routing table every peer a DHT
 * answer names as a provider, once the peer answers a libp2p ping: a peer behind a NAT, which
 * runs the DHT as a client and provides what it publishes, would enter the tables of the peers
 * that looked its content up, as a server that answers no DHT query and that few can dial.
 * The peer store cannot tell: libp2p records a protocol for a peer when the peer opens a stream
 * with it, so a client that queries the DHT is stored as speaking its protocol. What a peer says
 * of itself in identify (and identify push, when its mode changes) does tell: a peer whose
 * identify does not list the DHT protocol is taken out of the table as soon as both are known.
 */
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** kad-dht's routing table as its node holds it: the package's type states only `size` */
export interface KBuckets {
  size: number
  find?(peer: PeerId): Promise<PeerId | undefined>
  remove?(peer: PeerId): Promise<void>
  addEventListener?(type: 'peer:add', fn: (evt: CustomEvent<PeerId>) => void): void
}

/** Peers whose last identify said they do not serve the DHT, remembered at most */
const MAX_REMEMBERED = 10_000

type Host = Pick<Libp2p, 'addEventListener'>

/**
 * Keep peers whose identify does not list `protocol` out of the routing table of `dht`. Returns
 * false when the table offers no way to (another kad-dht version)
 */
export function keepClientsOut (host: Host, dht: Pick<SingleKadDHT, 'routingTable'>, protocol: string, log?: (fmt: string, ...args: unknown[]) => void): boolean {
  const table = dht.routingTable as KBuckets
  if (table.find == null || table.remove == null || table.addEventListener == null) return false
  const find = table.find.bind(table)
  const remove = table.remove.bind(table)
  const clients = new Set<string>()
  const check = async (peer: PeerId): Promise<void> => {
    if (!clients.has(peer.toString()) || await find(peer) == null) return
    await remove(peer)
    log?.('%p does not serve the DHT: out of the routing table', peer)
  }
  table.addEventListener('peer:add', (evt) => { check(evt.detail).catch(() => {}) })
  host.addEventListener('peer:identify', (evt) => {
    const { peerId, protocols } = evt.detail
    const key = peerId.toString()
    clients.delete(key)
    if (protocols.includes(protocol)) return
    clients.add(key)
    if (clients.size > MAX_REMEMBERED) clients.delete(clients.values().next().value as string)
    check(peerId).catch(() => {})
  })
  return true
}
