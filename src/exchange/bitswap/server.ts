/**
 * Serves blocks from the store over bitswap (`/ipfs/bitswap/1.2.0`, 1.1.0, 1.0.0), so IPFS nodes
 * (Kubo, Helia, gateways) that find a shoal peer as a provider get what it holds. Each peer that
 * asks has a ledger: its wantlist (at most MAX_WANTLIST entries), answered on a stream this side
 * opens on the peer's connection, in the version the peer spoke. Blocks go out under the same
 * upload slots and rate cap as shoal's own exchange. docs/interop.md has the limits.
 */
import { lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import { MAX_BLOCK_SIZE, MiB } from '../../constants.js'
import { mhKey } from '../../store/index.js'
import { aborted, lpMessages } from '../lp-read.js'
import { send } from '../send.js'
import { Message } from './message.js'
import type { TransferCollector } from '../collect.js'
import type { ExchangeBlocks } from '../index.js'
import type { Uploads } from '../uploads.js'
import type { Connection, Libp2p, Logger, Stream } from '@libp2p/interface'

export const BITSWAP_120 = '/ipfs/bitswap/1.2.0'
export const BITSWAP_110 = '/ipfs/bitswap/1.1.0'
export const BITSWAP_100 = '/ipfs/bitswap/1.0.0'
/** The versions served, newest first */
export const BITSWAP_PROTOCOLS = [BITSWAP_120, BITSWAP_110, BITSWAP_100] as const

/** Largest message read or written (the spec's, and Kubo's and Helia's) */
export const MAX_BITSWAP_MESSAGE = 4 * MiB
/** Wantlist entries held per peer; entries past it are ignored until others go */
export const MAX_WANTLIST = 1024
/** Blocks put in one message until it holds this many bytes (a block over it goes alone) */
const MESSAGE_TARGET = 1 * MiB
/** Inbound bitswap streams per connection, and in all */
const MAX_STREAMS_PER_CONNECTION = 32
const MAX_STREAMS = 1024
/** See BitswapServerInit.sendTimeoutMs */
const SEND_TIMEOUT = 30_000

export interface BitswapServerComponents {
  host: Pick<Libp2p, 'handle' | 'unhandle' | 'logger'>
  blocks: Pick<ExchangeBlocks, 'has' | 'getBytes'>
  uploads: Uploads
  /**
   * Told of the bytes each run of answers sent, to run a full collection once a bulk transfer is
   * over (collect.ts): a peer's wants are answered a few at a time, so the collector sums them
   */
  collector?: TransferCollector
}

export interface BitswapServerInit {
  /**
   * How long an answer may wait for the peer to read before its wants are dropped and its upload
   * slot freed (a peer that asks and never reads must not hold a slot)
   * @default 30000
   */
  sendTimeoutMs?: number
}

export interface BitswapStats {
  /** Peers with a wantlist held now */
  peers: number
  messagesIn: number
  blocksSent: number
  bytesSent: number
  haves: number
  dontHaves: number
  /** Messages refused (too large, malformed) and streams reset */
  errors: number
}

type Want = { cid: CID, have: boolean, sendDontHave: boolean, answered: boolean }

/** What one peer wants, and the stream its answers go out on */
interface Ledger {
  peer: string
  protocol: string
  connection: Connection
  wants: Map<string, Want>
  /** Set while answers are being sent; new wants wake it */
  sending?: Promise<void>
  out?: Stream
}

export class BitswapServer {
  private readonly components: BitswapServerComponents
  private readonly log: Logger
  private readonly ledgers = new Map<string, Ledger>()
  private streams = 0
  private stopping = new AbortController()
  private readonly counters = { messagesIn: 0, blocksSent: 0, bytesSent: 0, haves: 0, dontHaves: 0, errors: 0 }

  /** Blocks and presences a peer sent: answers to this side's own wants (see channel.ts) */
  onAnswers?: (peer: string, message: Message) => void

  /**
   * A stream a peer opened ended before it was read whole (libp2p aborts one on which more than
   * 4 MiB arrive before its handler reads): answers on it may be lost
   */
  onLost?: (peer: string) => void

  private readonly sendTimeoutMs: number

  constructor (components: BitswapServerComponents, init: BitswapServerInit = {}) {
    this.components = components
    this.sendTimeoutMs = init.sendTimeoutMs ?? SEND_TIMEOUT
    this.log = components.host.logger.forComponent('shoal:exchange:bitswap')
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    await this.components.host.handle([...BITSWAP_PROTOCOLS], (stream, connection) => {
      void this.read(stream, connection)
    }, { maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION })
  }

  async stop (): Promise<void> {
    this.stopping.abort(new Error('the peer is stopping'))
    await this.components.host.unhandle([...BITSWAP_PROTOCOLS])
    for (const ledger of this.ledgers.values()) ledger.out?.abort(new Error('the peer is stopping'))
    this.ledgers.clear()
  }

  stats (): BitswapStats {
    return { peers: this.ledgers.size, ...this.counters }
  }

  /** Read a peer's messages off one of its streams until it closes it */
  private async read (stream: Stream, connection: Connection): Promise<void> {
    if (this.streams >= MAX_STREAMS) {
      stream.abort(new Error('too many bitswap streams'))
      this.counters.errors++
      return
    }
    if (aborted(stream)) {
      // as it waited for this handler
      this.counters.errors++
      this.onLost?.(connection.remotePeer.toString())
      return
    }
    this.streams++
    const protocol = stream.protocol ?? BITSWAP_120
    const lp = lpStream(stream, { maxDataLength: MAX_BITSWAP_MESSAGE, maxBufferSize: MAX_BITSWAP_MESSAGE * 2 })
    try {
      for await (const bytes of lpMessages(lp, stream)) {
        // entries past the limit are refused before they are allocated
        const message = Message.decode(bytes, { limits: { wantlist: { entries: MAX_WANTLIST } } })
        this.counters.messagesIn++
        if (message.wantlist != null) this.want(connection, protocol, message.wantlist)
        if (message.payload.length + message.blocks.length + message.blockPresences.length > 0) {
          this.onAnswers?.(connection.remotePeer.toString(), message)
        }
      }
      await stream.close()
    } catch (err: any) {
      this.log('bitswap stream from %p reset: %s', connection.remotePeer, err.message)
      this.counters.errors++
      stream.abort(err)
      this.onLost?.(connection.remotePeer.toString())
    } finally {
      this.streams--
    }
  }

  /** Apply a peer's wantlist update and have it answered */
  private want (connection: Connection, protocol: string, list: Message.Wantlist): void {
    const peer = connection.remotePeer.toString()
    let ledger = this.ledgers.get(peer)
    if (ledger == null || ledger.connection.status !== 'open') {
      ledger = { peer, protocol, connection, wants: new Map() }
      this.ledgers.set(peer, ledger)
    }
    ledger.protocol = protocol
    if (list.full) ledger.wants.clear()
    for (const entry of list.entries) {
      const cid = decodeCid(entry.block)
      if (cid == null) continue
      const key = mhKey(cid)
      if (entry.cancel) {
        ledger.wants.delete(key)
        continue
      }
      if (!ledger.wants.has(key) && ledger.wants.size >= MAX_WANTLIST) continue
      // 1.0.0 and 1.1.0 know only want-block
      const have = protocol === BITSWAP_120 && entry.wantType === Message.Wantlist.WantType.Have
      ledger.wants.set(key, { cid, have, sendDontHave: protocol === BITSWAP_120 && entry.sendDontHave, answered: false })
    }
    this.schedule(ledger)
  }

  /** Have a ledger's unanswered wants answered, unless that runs already */
  private schedule (ledger: Ledger): void {
    if (ledger.sending != null) return
    ledger.sending = this.answer(ledger).finally(() => {
      ledger.sending = undefined
      if (this.ledgers.get(ledger.peer) !== ledger) return
      // wants that came in as the last answers went out
      if ([...ledger.wants.values()].some(w => !w.answered)) this.schedule(ledger)
      else if (ledger.wants.size === 0) {
        this.ledgers.delete(ledger.peer)
        void ledger.out?.close().catch(() => {})
      }
    })
  }

  /** Answer a ledger's wants until none is left unanswered */
  private async answer (ledger: Ledger): Promise<void> {
    const signal = this.stopping.signal
    let slot = false
    let served = 0
    try {
      while (!signal.aborted) {
        const next = [...ledger.wants.entries()].filter(([, w]) => !w.answered)
        if (next.length === 0) break
        let message: Message = emptyMessage()
        let bytes = 0
        for (const [key, want] of next) {
          want.answered = true
          const held = await this.components.blocks.has(want.cid)
          if (!held) {
            // a block not held stays wanted (a cancel or a full list removes it); it is said
            // once, where the peer asked to hear it
            if (want.sendDontHave) this.presence(message, want.cid, Message.BlockPresenceType.DontHave)
            continue
          }
          ledger.wants.delete(key)
          if (want.have) {
            this.presence(message, want.cid, Message.BlockPresenceType.Have)
            continue
          }
          let data: Uint8Array<ArrayBuffer>
          try {
            data = await this.components.blocks.getBytes(want.cid) as Uint8Array<ArrayBuffer>
          } catch {
            if (want.sendDontHave) this.presence(message, want.cid, Message.BlockPresenceType.DontHave)
            continue
          }
          // the store never accepts larger blocks; this guards a store edited by hand
          if (data.byteLength > MAX_BLOCK_SIZE) continue
          if (!slot) {
            await this.components.uploads.take(ledger.peer, signal)
            slot = true
          }
          await this.components.uploads.rate.take(data.byteLength, signal)
          if (ledger.protocol === BITSWAP_100) message.blocks.push(data)
          else message.payload.push({ prefix: prefixOf(want.cid), data })
          bytes += data.byteLength
          served += data.byteLength
          this.counters.blocksSent++
          this.counters.bytesSent += data.byteLength
          if (bytes >= MESSAGE_TARGET) {
            await this.send(ledger, message)
            message = emptyMessage()
            bytes = 0
          }
        }
        if (message.blocks.length + message.payload.length + message.blockPresences.length > 0) await this.send(ledger, message)
      }
    } catch (err: any) {
      this.log('answering %s failed: %s', ledger.peer, err.message)
      this.counters.errors++
      ledger.wants.clear()
      ledger.out?.abort(err)
      ledger.out = undefined
    } finally {
      if (slot) this.components.uploads.release(ledger.peer)
      this.components.collector?.ended(served)
    }
  }

  private presence (message: Message, cid: CID, type: Message.BlockPresenceType): void {
    // presences are 1.2.0's; older versions hear nothing for what is not held
    message.blockPresences.push({ cid: cid.bytes, type })
    if (type === Message.BlockPresenceType.Have) this.counters.haves++
    else this.counters.dontHaves++
  }

  private async send (ledger: Ledger, message: Message): Promise<void> {
    if (ledger.protocol !== BITSWAP_120) message.blockPresences = []
    if (message.blocks.length + message.payload.length + message.blockPresences.length === 0) return
    if (ledger.out != null && ledger.out.protocol !== ledger.protocol) {
      // the peer spoke another version: answers go in it, on a stream of its own
      void ledger.out.close().catch(() => {})
      ledger.out = undefined
    }
    ledger.out ??= await ledger.connection.newStream(ledger.protocol, { signal: this.stopping.signal })
    let timer: ReturnType<typeof setTimeout> | undefined
    const sending = send(ledger.out, frame(message))
    // settles after a timeout too (the stream is aborted then): nobody waits for it by then
    sending.catch(() => {})
    try {
      await Promise.race([
        sending,
        new Promise<never>((resolve, reject) => {
          timer = setTimeout(() => { reject(new Error(`peer did not read for ${this.sendTimeoutMs} ms`)) }, this.sendTimeoutMs)
        })
      ])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** A CID's prefix as bitswap 1.1.0 sends it: version, codec, multihash code and digest length */
export function prefixOf (cid: CID): Uint8Array<ArrayBuffer> {
  const fields = [cid.version, cid.code, cid.multihash.code, cid.multihash.size]
  const out = new Uint8Array(fields.reduce((n, f) => n + varint.encodingLength(f), 0))
  let offset = 0
  for (const f of fields) {
    varint.encode(f, out, offset)
    offset += varint.encodingLength(f)
  }
  return out
}

/**
 * A message with its length prefix, as the parts to send: the blocks' bytes as they came from the
 * store, each after a hand-encoded head, and everything else encoded by `Message.encode`
 * (protobuf fields may come in any order, and repeated ones add up). Encoded whole, each block
 * was copied twice more (into the message, then behind its length prefix).
 */
export function frame (message: Message): Uint8ArrayList<ArrayBufferLike> {
  const parts = new Uint8ArrayList<ArrayBufferLike>(Message.encode({ ...message, blocks: [], payload: [] }))
  for (const data of message.blocks) parts.append(fieldHead(BLOCKS_FIELD, data.byteLength), data)
  for (const { prefix, data } of message.payload) {
    const prefixHead = fieldHead(PREFIX_FIELD, prefix.byteLength)
    const dataHead = fieldHead(DATA_FIELD, data.byteLength)
    const length = prefixHead.byteLength + prefix.byteLength + dataHead.byteLength + data.byteLength
    parts.append(fieldHead(PAYLOAD_FIELD, length), prefixHead, prefix, dataHead, data)
  }
  parts.prepend(varint.encode(parts.byteLength))
  return parts
}

/** Message.blocks, Message.payload, and Block.prefix and Block.data, as message.proto numbers them */
const BLOCKS_FIELD = 2
const PAYLOAD_FIELD = 3
const PREFIX_FIELD = 1
const DATA_FIELD = 2
/** The protobuf wire type of bytes and embedded messages */
const LENGTH_DELIMITED = 2

/** The tag and length that go before a length-delimited field's bytes */
function fieldHead (field: number, length: number): Uint8Array {
  const tag = (field << 3) | LENGTH_DELIMITED
  const head = new Uint8Array(varint.encodingLength(tag) + varint.encodingLength(length))
  varint.encode(tag, head)
  varint.encode(length, head, varint.encodingLength(tag))
  return head
}

function emptyMessage (): Message {
  return { blocks: [], payload: [], blockPresences: [], pendingBytes: 0 }
}

function decodeCid (bytes: Uint8Array): CID | undefined {
  try {
    return CID.decode(bytes)
  } catch {
    return undefined
  }
}
