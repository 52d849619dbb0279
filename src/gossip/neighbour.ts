/**
 * Neighbour beats (docs/gossip.md, presence v2): once a period each peer sends its `Presence` to
 * each directly connected peer over `/shoal/<swarm>/neighbour/1.0.0`, one length-prefixed message
 * on a stream of its own. The connection authenticates the sender, so nothing is signed and nothing
 * is checked but the message's bounds; it is the failure detector (a neighbour silent for 2.5
 * periods is gone) and the load report of the peers a fetch asks first.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { MAX_GOSSIP_MESSAGE } from '../constants.js'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'

export function neighbourProtocol (swarm: string): string {
  return `/shoal/${swarm}/neighbour/1.0.0`
}

export type NeighbourHost = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections'>

export interface NeighbourBeatsInit {
  protocol: string
  /** Longest a send or a read may take, ms */
  timeoutMs: number
  /** A beat's bytes arrived from a connected peer */
  onBeat(from: PeerId, data: Uint8Array): void
}

/** Streams in from one connection at once (one beat a period is what an honest neighbour sends) */
const MAX_INBOUND_STREAMS = 4

export class NeighbourBeats {
  private readonly host: NeighbourHost
  private readonly log: Logger
  private readonly init: NeighbourBeatsInit

  constructor (host: NeighbourHost, log: Logger, init: NeighbourBeatsInit) {
    this.host = host
    this.log = log
    this.init = init
  }

  async start (): Promise<void> {
    await this.host.handle(this.init.protocol, (stream, connection) => {
      void (async () => {
        const lp = lpStream(stream, { maxDataLength: MAX_GOSSIP_MESSAGE })
        const data = await lp.read({ signal: AbortSignal.timeout(this.init.timeoutMs) })
        this.init.onBeat(connection.remotePeer, data.subarray())
        await stream.close()
      })().catch((err) => {
        this.log('neighbour beat from %p failed: %s', connection.remotePeer, err.message)
        stream.abort(err)
      })
    }, { maxInboundStreams: MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    await this.host.unhandle(this.init.protocol)
  }

  /**
   * Send a beat to a connected peer; never dials. Resolves 'sent', 'gone' (no connection) or
   * 'unsupported' (a peer of the first version, or not of this swarm)
   */
  async send (peerId: string, data: Uint8Array): Promise<'sent' | 'gone' | 'unsupported'> {
    const id = peerIdFromString(peerId)
    if (this.host.getConnections(id).length === 0) return 'gone'
    const signal = AbortSignal.timeout(this.init.timeoutMs)
    let stream
    try {
      stream = await this.host.dialProtocol(id, this.init.protocol, { signal })
    } catch (err: any) {
      if (err.name === 'UnsupportedProtocolError') return 'unsupported'
      throw err
    }
    try {
      await lpStream(stream).write(data, { signal })
      await stream.close({ signal })
      return 'sent'
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }
}
