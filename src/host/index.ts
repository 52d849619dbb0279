/**
 * The libp2p host, built from config: TCP and WebSockets, noise, yamux, identify, ping, kad-dht,
 * gossipsub and bootstrap, with the peer store and DHT records in a datastore on disk.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { identify, identifyPush } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { preSharedKey } from '@libp2p/pnet'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { FsDatastore } from 'datastore-fs'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import { createLibp2p } from 'libp2p'
import { noiseCrypto } from './noise-crypto.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey, Libp2p, PeerDiscovery, ComponentLogger, Metrics } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import type { Ping } from '@libp2p/ping'

const HOUR = 3_600_000

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
    /** Our provider records are provided again once older than this (default 22 h) */
    reprovideIntervalMs?: number
    /** Lifetime of provider records, ours elsewhere and others' here (default 48 h) */
    recordLifetimeMs?: number
  }
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
  const datastore = new FsDatastore(init.datastorePath)
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
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
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
        peerInfoMapper,
        // a peer with no DHT peers answers "no providers" at once rather than waiting for one
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
        maxInboundDataLength: gossipInit.maxInboundDataLength,
        ...(gossipInit.decodeRpcLimits != null ? { decodeRpcLimits: gossipInit.decodeRpcLimits } : {}),
        scoreParams: {
          topics: Object.fromEntries(Object.entries(gossipInit.topics).map(([t, p]) => [t, createTopicScoreParams(p)])),
          IPColocationFactorWhitelist: new Set(gossipInit.colocationWhitelist)
        }
      })
    }
  })
  return node as unknown as Host
}
