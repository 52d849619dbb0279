/**
 * Asking neighbours for a name's newest record (`/shoal/names/1.0.0`). A peer that comes back
 * after being away asks the peers it is connected to, beside the DHT: they hold what gossip
 * brought them, and answer in one round trip where a DHT lookup takes several (and seconds with
 * loss). One request per stream: the name's key (a multihash, as on the names topic), answered
 * with the record held (key and record) or nothing. Sizes are checked from the length prefix
 * before anything is allocated; what comes back is checked like any record (records.ts).
 */
import { lpStream } from '@libp2p/utils'
import { InvalidRecordError } from '../errors.js'
import { MAX_NAME_MESSAGE, nameOfKey } from './gossip.js'
import { NameRecord } from './messages.js'
import { checkRecord, isNewer } from './records.js'
import type { IpnsName } from './records.js'
import type { RecordStore } from './record-store.js'
import type { Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import type { IPNSRecord } from 'ipns'

export const NAMES_PROTOCOL = '/shoal/names/1.0.0'
const second = 1000
/** How long one neighbour has to answer */
export const ASK_TIMEOUT = 3 * second
/** Neighbours asked at once for one name */
export const ASK_PEERS = 8
/** Requests a peer may have open on one connection */
const MAX_STREAMS = 4
/** A request is a key of at most 64 bytes, with its framing */
const MAX_REQUEST = 128

export interface NeighbourComponents {
  host: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections'>
  records: Pick<RecordStore, 'get'>
  log: Logger
}

export interface Found {
  record: IPNSRecord
  bytes: Uint8Array
  from: PeerId
}

export class NameNeighbours {
  private readonly components: NeighbourComponents
  private readonly served = { requests: 0, answered: 0 }

  constructor (components: NeighbourComponents) {
    this.components = components
  }

  async start (): Promise<void> {
    await this.components.host.handle(NAMES_PROTOCOL, (stream, connection) => {
      this.answer(stream, connection).catch((err) => {
        this.components.log('names request from %p: %s', connection.remotePeer, err.message)
        stream.abort(err)
      })
    }, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS })
  }

  async stop (): Promise<void> {
    await this.components.host.unhandle(NAMES_PROTOCOL)
  }

  /**
   * The newest valid record any of up to ASK_PEERS connected peers holds, newer than `held`;
   * `onFound` hears each newer one as it arrives
   */
  async ask (name: IpnsName, held: IPNSRecord | undefined, signal: AbortSignal, onFound?: (found: Found) => void): Promise<Found | undefined> {
    const peers = new Map<string, PeerId>()
    for (const c of this.components.host.getConnections()) {
      if (c.status === 'open' && c.limits == null) peers.set(c.remotePeer.toString(), c.remotePeer)
    }
    let best: Found | undefined
    await Promise.all([...peers.values()].slice(0, ASK_PEERS).map(async (peer) => {
      const found = await this.askOne(peer, name, AbortSignal.any([signal, AbortSignal.timeout(ASK_TIMEOUT)])).catch((err) => {
        if (err instanceof InvalidRecordError) this.components.log('%p answered %s with a record refused: %s', peer, name.name, err.message)
        return undefined
      })
      if (found == null || !isNewer(found.record, best?.record ?? held)) return
      best = found
      onFound?.(found)
    }))
    return best
  }

  stats (): { requests: number, answered: number } {
    return { ...this.served }
  }

  private async askOne (peer: PeerId, name: IpnsName, signal: AbortSignal): Promise<Found | undefined> {
    const stream = await this.components.host.dialProtocol(peer, NAMES_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_NAME_MESSAGE })
      await lp.write(NameRecord.encode({ key: keyOf(name), record: new Uint8Array(0) }), { signal })
      const reply = NameRecord.decode(await lp.read({ signal }))
      await stream.close({ signal }).catch(() => {})
      if (reply.record.byteLength === 0) return undefined
      const record = await checkRecord(name, reply.record)
      return { record, bytes: reply.record, from: peer }
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(ASK_TIMEOUT)
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST })
    const request = NameRecord.decode(await lp.read({ signal }))
    this.served.requests++
    const name = nameOfKey(request.key)
    if (typeof name === 'string') throw new Error(`bad request: ${name}`)
    const held = await this.components.records.get(name.name)
    if (held != null) this.served.answered++
    await lp.write(NameRecord.encode({ key: request.key, record: held != null ? new Uint8Array(held.bytes) : new Uint8Array(0) }), { signal })
    await stream.close({ signal })
    this.components.log.trace?.('answered %p for %s: %s', connection.remotePeer, name.name, held != null ? 'a record' : 'none')
  }
}

function keyOf (name: IpnsName): Uint8Array<ArrayBuffer> {
  return new Uint8Array(name.routingKey.subarray('/ipns/'.length))
}
