/**
 * The libp2p host, built from config: TCP and WebSockets, noise, yamux, identify, ping, kad-dht,
 * gossipsub and bootstrap, with the peer store and DHT records in a datastore on disk.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { FsDatastore } from 'datastore-fs'
import { createLibp2p } from 'libp2p'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey, Libp2p, PeerDiscovery, ComponentLogger, Metrics } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'

export interface HostServices extends Record<string, unknown> {
  identify: Identify
  identifyPush: unknown
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

export type Host = Libp2p<HostServices>

export interface HostInit {
  privateKey: PrivateKey
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
    clientMode: boolean
    peerAddresses: 'public' | 'private' | 'all'
  }
  /** Sent in identify */
  agentVersion: string
  logger?: ComponentLogger
  /** libp2p's metrics implementation (Prometheus), when metrics are on */
  metrics?: (components: any) => Metrics
}

/** Build a libp2p host; it is not started */
export async function createHost (init: HostInit): Promise<Host> {
  const datastore = new FsDatastore(init.datastorePath)
  await datastore.open()

  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (init.bootstrap != null && init.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: init.bootstrap }))
  }

  const peerInfoMapper = init.dht.peerAddresses === 'public'
    ? removePrivateAddressesMapper
    : init.dht.peerAddresses === 'private' ? removePublicAddressesMapper : passthroughMapper

  const node = await createLibp2p({
    start: false,
    privateKey: init.privateKey,
    datastore,
    nodeInfo: { userAgent: init.agentVersion },
    addresses: {
      listen: init.listen,
      announce: init.announce ?? []
    },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
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
    peerDiscovery,
    ...(init.logger != null ? { logger: init.logger } : {}),
    ...(init.metrics != null ? { metrics: init.metrics } : {}),
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: kadDHT({
        protocol: init.dht.protocol,
        clientMode: init.dht.clientMode,
        peerInfoMapper
      }),
      pubsub: gossipsub({
        emitSelf: false,
        allowPublishToZeroTopicPeers: true
      })
    }
  })
  return node as unknown as Host
}
