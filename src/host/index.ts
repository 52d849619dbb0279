/**
 * The libp2p host, built from config: TCP and WebSockets, TLS and noise, yamux, identify, ping, kad-dht,
 * gossipsub and bootstrap, with the peer store and DHT records in a datastore on disk.
 */
import { autoNATv2 } from '@libp2p/autonat-v2'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { identify, identifyPush } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { preSharedKey } from '@libp2p/pnet'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import { createLibp2p } from 'libp2p'
import { keepClientsOut } from './dht-servers.js'
import { PeerRecordDatastore, peerRecordFlushing } from './datastore.js'
import { natService } from './nat.js'
import { walkPace } from './walk-pace.js'
import { portMapping } from './port-mapping.js'
import { reservationsPerIp } from './relay-limits.js'
import type { PortMappingService } from './port-mapping.js'
import { ENCRYPTERS } from './encrypters.js'
import { noiseCrypto } from './noise-crypto.js'
import type { Encrypter } from './encrypters.js'
import type { NatService } from './nat.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey, Libp2p, PeerDiscovery, PeerId, ComponentLogger, Metrics } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import type { Ping } from '@libp2p/ping'

const HOUR = 3_600_000

export interface HostServices extends Record<string, unknown> {
  identify: Identify
  identifyPush: { push(): Promise<void> }
  ping: Ping
  /** kad-dht's own node, whose routing table `peers` and `stats` read */
  dht: SingleKadDHT
  pubsub: GossipSub
  nat: NatService
  /** With `nat.upnp` and an address a router could forward to */
  portMapping?: PortMappingService
}

export type Host = Libp2p<HostServices>
export { ENCRYPTERS, type Encrypter } from './encrypters.js'

/** Reachability and NAT traversal: the config's `nat` section */
export interface NatInit {
  /**
   * CIDRs that count as the public internet besides globally routable addresses: for labs and
   * private WANs whose addresses lie in private ranges
   */
  publicRanges: string[]
  /** Ask the router for a port mapping with UPnP IGD / NAT-PMP, renewed while the peer runs */
  upnp: boolean
}

/** Circuit relay v2 (docs/public-swarm.md): the config's `relay` section */
export interface RelayInit {
  /** Reserve a slot on a relay and announce its `/p2p-circuit` addresses while not publicly reachable */
  client: boolean
  /** Multiaddrs (with /p2p/) of relays to keep connected and reserve on; other relays of the swarm are found as it runs */
  relays: string[]
  /** Serve reservations and relay connections for other peers */
  service: boolean
  /** Reservations served at once */
  maxReservations: number
  /** Reservations one IP may hold at once; 0 for no limit */
  maxReservationsPerIp: number
  /** Bytes one relayed connection may carry (both directions together); 0 for no limit */
  circuitBytes: number
  /** How long one relayed connection may last; 0 for no limit */
  circuitDurationMs: number
}

export interface HostInit {
  privateKey: PrivateKey
  /**
   * Connection encrypters in order of preference: a dial proposes the first and falls back to
   * the next the other side speaks; IPFS nodes speak both (docs/performance.md compares them)
   * @default ['noise', 'tls']
   */
  encrypters?: Encrypter[]
  /** Directory for the peer store and DHT records */
  datastorePath: string
  listen: string[]
  announce?: string[]
  bootstrap?: string[]
  limits: {
    maxConnections: number
    maxIncomingPendingConnections: number
    inboundConnectionThreshold: number
    dialTimeoutMs: number
  }
  dht: {
    protocol: string
    /**
     * `auto`: where the swarm spans the internet (`nat.publicRanges` set or `peerAddresses`
     * public), a server only while the NAT service finds this peer publicly reachable; on a LAN,
     * a server
     */
    clientMode: boolean | 'auto'
    peerAddresses: 'public' | 'private' | 'all'
    /** Our provider records are provided again once older than this (default 22 h) */
    reprovideIntervalMs?: number
    /** Lifetime of provider records, ours elsewhere and others' here (default 48 h) */
    recordLifetimeMs?: number
  }
  /** Reachability and NAT traversal (config `nat`); absent: nothing counts as public but the internet, no UPnP */
  nat?: NatInit
  /** Circuit relay v2 (config `relay`); absent: relayed addresses are dialled, nothing more */
  relay?: RelayInit
  /** Multicast DNS discovery on the LAN */
  mdns?: boolean
  /** Pre-shared key of a private swarm, in the libp2p `/key/swarm/psk/1.0.0/` format */
  swarmKey?: Uint8Array
  gossip?: {
    /** Score parameters per topic (the library leaves per-topic scoring off) */
    topics: Record<string, Partial<TopicScoreParams>>
    /** IPs exempt from the IP colocation penalty */
    colocationWhitelist: string[]
    /** Largest message data decoded at all; shoal's own validators enforce smaller limits */
    maxInboundDataLength: number
    /** Bounds on one decoded RPC */
    decodeRpcLimits?: { maxSubscriptions: number, maxMessages: number, maxIhaveMessageIDs: number, maxIwantMessageIDs: number, maxIdontwantMessageIDs: number, maxControlMessages: number, maxPeerInfos: number }
  }
  /** Sent in identify */
  agentVersion: string
  logger?: ComponentLogger
  /** libp2p's metrics implementation (Prometheus), when metrics are on */
  metrics?: (components: any) => Metrics
}

/** Build a libp2p host; it is not started */
export async function createHost (init: HostInit): Promise<Host> {
  // peer records in memory, written out in the background (datastore.ts)
  const datastore = new PeerRecordDatastore(init.datastorePath)
  await datastore.open()

  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (init.bootstrap != null && init.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: init.bootstrap }))
  }
  if (init.mdns === true) {
    peerDiscovery.push(mdns())
  }

  const lifetime = init.dht.recordLifetimeMs ?? 48 * HOUR
  const reprovideInterval = init.dht.reprovideIntervalMs ?? 22 * HOUR
  const gossipInit = init.gossip ?? { topics: {}, colocationWhitelist: [], maxInboundDataLength: 64 * 1024, decodeRpcLimits: undefined }
  const peerInfoMapper = init.dht.peerAddresses === 'public'
    ? removePrivateAddressesMapper
    : init.dht.peerAddresses === 'private' ? removePublicAddressesMapper : passthroughMapper

  const nat = natService({ publicRanges: init.nat?.publicRanges, relays: init.relay?.relays })
  // only a swarm that spans the internet filters what it announces: on a LAN every address is dialable
  const internetFacing = (init.nat?.publicRanges.length ?? 0) > 0 || init.dht.peerAddresses === 'public'
  const relay = init.relay
  const listen = relay?.client === true ? [...init.listen, '/p2p-circuit'] : init.listen
  // a peer that listens on loopback alone has no port a router could map (and its tests send
  // nothing beyond loopback, not even a gateway search)
  const upnp = init.nat?.upnp === true && init.listen.some(a => !/^\/ip[46]\/(127\.|::1\/)/.test(a))

  // the connection gater reads the relay service's reservations once the node exists
  let host: Host | undefined
  const node = await createLibp2p({
    start: false,
    privateKey: init.privateKey,
    datastore,
    nodeInfo: { userAgent: init.agentVersion },
    addresses: {
      listen,
      announce: init.announce ?? [],
      ...(internetFacing ? { announceFilter: nat.announceFilter } : {})
    },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: (init.encrypters ?? ENCRYPTERS).map(e => e === 'tls' ? tls() : noise({ crypto: noiseCrypto })),
    ...(init.swarmKey != null ? { connectionProtector: preSharedKey({ psk: init.swarmKey }) } : {}),
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: init.limits.maxConnections,
      maxIncomingPendingConnections: init.limits.maxIncomingPendingConnections,
      inboundConnectionThreshold: init.limits.inboundConnectionThreshold,
      dialTimeout: init.limits.dialTimeoutMs
    },
    // a ping queued behind megabytes of block data on a busy connection is slow, not dead:
    // aborting the connection would kill every transfer on it. Dead peers show up as stream
    // and socket errors and as exchange request timeouts instead.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    ...(relay?.service === true
      ? {
          connectionGater: {
            denyInboundRelayReservation: reservationsPerIp({
              maxPerIp: relay.maxReservationsPerIp,
              reservations: () => (host as Libp2p<{ relay?: { reservations: Iterable<[PeerId, { addr: Multiaddr }]> } }> | undefined)?.services.relay?.reservations,
              connections: (peer) => host?.getConnections(peer) ?? []
            })
          }
        }
      : {}),
    peerDiscovery,
    ...(init.logger != null ? { logger: init.logger } : {}),
    ...(init.metrics != null ? { metrics: init.metrics } : {}),
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: kadDHT({
        protocol: init.dht.protocol,
        // auto: on a LAN every peer can be dialled, so a server; where the swarm spans the
        // internet, a client until the NAT service finds this peer public (below)
        clientMode: init.dht.clientMode === 'auto' ? internetFacing : init.dht.clientMode,
        peerInfoMapper,
        // a peer with no DHT peers answers "no providers" at once rather than waiting for one
        // (walkPace keeps libp2p's random walk from spinning on such answers)
        allowQueryWithZeroPeers: true,
        // IPNS records under /ipns/ (docs/names.md): checked as Kubo and Helia check them, the
        // newest kept
        validators: { ipns: ipnsValidator },
        selectors: { ipns: ipnsSelector },
        providers: { provideValidity: Math.ceil(lifetime / 1000) },
        reprovide: {
          validity: lifetime,
          // a record is provided again once it is older than the reprovide interval
          threshold: lifetime - reprovideInterval,
          interval: Math.min(HOUR, reprovideInterval)
        }
      }),
      pubsub: gossipsub({
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        // every message carries its author's signature and sequence number, and unsigned ones are dropped
        globalSignaturePolicy: 'StrictSign',
        // a copy of a message already accepted is dropped before its signature is checked again:
        // the id is the author and sequence number (the message id of StrictSign), and only
        // messages whose signature held enter this cache, so a forged copy cannot take a real one's place
        fastMsgIdFn: fastMsgId,
        maxInboundDataLength: gossipInit.maxInboundDataLength,
        ...(gossipInit.decodeRpcLimits != null ? { decodeRpcLimits: gossipInit.decodeRpcLimits } : {}),
        scoreParams: {
          topics: Object.fromEntries(Object.entries(gossipInit.topics).map(([t, p]) => [t, createTopicScoreParams(p)])),
          IPColocationFactorWhitelist: new Set(gossipInit.colocationWhitelist)
        }
      }),
      nat: nat.service,
      peerRecords: peerRecordFlushing(datastore),
      walkPace: walkPace(),
      autoNAT: autoNATv2(),
      dcutr: dcutr(),
      ...(upnp ? { portMapping: portMapping({ publicRanges: init.nat?.publicRanges, onMapped: nat.mapped }) } : {}),
      ...(relay?.service === true ? { relay: circuitRelayServer({ reservations: relayLimits(relay) }) } : {})
    }
  })
  host = node as unknown as Host
  keepClientsOut(host, host.services.dht, init.dht.protocol)
  host.services.nat.addEventListener('reachability', (evt) => {
    if (init.dht.clientMode === 'auto' && internetFacing) {
      host.services.dht.setMode(evt.detail === 'public' ? 'server' : 'client').catch(() => {})
    }
    // peers learn the addresses that are now worth dialling
    if (host.status === 'started') host.services.identifyPush.push().catch(() => {})
  })
  return host
}

/** gossipsub's fast message id: author and sequence number, as text */
export function fastMsgId (msg: { from?: Uint8Array, seqno?: Uint8Array }): string {
  if (msg.from == null || msg.seqno == null) return ''
  return Buffer.from(msg.from).toString('base64') + Buffer.from(msg.seqno).toString('base64')
}

/** The relay service's reservation limits from the config, where 0 is no limit */
function relayLimits (relay: NonNullable<HostInit['relay']>): { maxReservations: number, applyDefaultLimit: boolean, defaultDataLimit?: bigint, defaultDurationLimit?: number } {
  if (relay.circuitBytes === 0 && relay.circuitDurationMs === 0) return { maxReservations: relay.maxReservations, applyDefaultLimit: false }
  return {
    maxReservations: relay.maxReservations,
    applyDefaultLimit: true,
    // one of the two unlimited: the largest the relay can count
    defaultDataLimit: BigInt(relay.circuitBytes === 0 ? Number.MAX_SAFE_INTEGER : relay.circuitBytes),
    defaultDurationLimit: relay.circuitDurationMs === 0 ? 2 ** 31 - 1 : relay.circuitDurationMs
  }
}
