/**
 * Neighbour beats (docs/gossip.md, presence v2): once a period each peer sends its `Presence` to
 * each directly connected peer over `/shoal/<swarm>/neighbour/1.0.0`: one stream per neighbour and
 * direction, opened at the first beat and kept, one length-prefixed message per beat. The
 * connection authenticates the sender, so nothing is signed and nothing is checked but the
 * message's bounds; it is the failure detector (a neighbour silent for 2.5 periods is gone) and
 * the load report of the peers a fetch asks first.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { MAX_GOSSIP_MESSAGE } from '../constants.js'
import type { Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

export function neighbourProtocol (swarm: string): string {
  return `/shoal/${swarm}/neighbour/1.0.0`
}

export type NeighbourHost = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections'>

export interface NeighbourBeatsInit {
  protocol: string
  /** Longest a stream's opening or a write may take, ms */
  timeoutMs: number
  /** A beat's bytes arrived from a connected peer */
  onBeat(from: PeerId, data: Uint8Array): void
}

/** Streams in from one connection at once: one is what an honest neighbour keeps open */
const MAX_INBOUND_STREAMS = 2
/** Beats in one stream at most before it is closed and opened afresh (bounds what one stream lives for) */
const MAX_BEATS_PER_STREAM = 100_000

interface Outbound { stream: Stream, lp: LengthPrefixedStream<Stream>, sent: number }

export class NeighbourBeats {
  private readonly host: NeighbourHost
  private readonly log: Logger
  private readonly init: NeighbourBeatsInit
  private readonly outbound = new Map<string, Outbound>()
  private readonly opening = new Map<string, Promise<Outbound>>()

  constructor (host: NeighbourHost, log: Logger, init: NeighbourBeatsInit) {
    this.host = host
    this.log = log
    this.init = init
  }

  async start (): Promise<void> {
    await this.host.handle(this.init.protocol, (stream, connection) => {
      void (async () => {
        const lp = lpStream(stream, { maxDataLength: MAX_GOSSIP_MESSAGE })
        for (let n = 0; n < MAX_BEATS_PER_STREAM; n++) {
          const data = await lp.read()
          this.init.onBeat(connection.remotePeer, data.subarray())
        }
        await stream.close()
      })().catch((err) => {
        // the stream ends when the neighbour goes: that is not news
        if (err.name !== 'UnexpectedEOFError') this.log('neighbour beats from %p ended: %s', connection.remotePeer, err.message)
        stream.abort(err)
      })
    }, { maxInboundStreams: MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    for (const o of this.outbound.values()) o.stream.abort(new Error('stopping'))
    this.outbound.clear()
    await this.host.unhandle(this.init.protocol)
  }

  private async open (id: PeerId, signal: AbortSignal): Promise<Outbound> {
    const stream = await this.host.dialProtocol(id, this.init.protocol, { signal })
    const o = { stream, lp: lpStream(stream), sent: 0 }
    this.outbound.set(id.toString(), o)
    return o
  }

  /** Forget the stream to a peer whose connection closed */
  drop (peerId: string): void {
    this.outbound.get(peerId)?.stream.abort(new Error('connection closed'))
    this.outbound.delete(peerId)
  }

  /**
   * Send a beat to a connected peer; never dials. Resolves 'sent', 'gone' (no connection) or
   * 'unsupported' (a peer of the first version, or not of this swarm)
   */
  async send (peerId: string, data: Uint8Array): Promise<'sent' | 'gone' | 'unsupported'> {
    const id = peerIdFromString(peerId)
    if (this.host.getConnections(id).length === 0) {
      this.drop(peerId)
      return 'gone'
    }
    const signal = AbortSignal.timeout(this.init.timeoutMs)
    let o = this.outbound.get(peerId)
    if (o != null && (o.stream.status !== 'open' || o.sent >= MAX_BEATS_PER_STREAM)) {
      this.drop(peerId)
      o = undefined
    }
    if (o == null) {
      // one stream per neighbour: a send while it opens waits for it
      let opening = this.opening.get(peerId)
      if (opening == null) {
        opening = this.open(id, signal)
        this.opening.set(peerId, opening)
        void opening.catch(() => {}).finally(() => { this.opening.delete(peerId) })
      }
      try {
        o = await opening
      } catch (err: any) {
        if (err.name === 'UnsupportedProtocolError') return 'unsupported'
        throw err
      }
    }
    try {
      await o.lp.write(data, { signal })
      o.sent++
      return 'sent'
    } catch (err: any) {
      this.drop(peerId)
      throw err
    }
  }
}
