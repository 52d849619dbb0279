/**
 * A fetch session's channel to a peer that speaks bitswap only (an IPFS node): the session's
 * requests become wantlist entries (want-block and want-have, DONT_HAVE asked for), sent on a
 * stream this side opens; the answers come back on a stream the peer opens, read by the bitswap
 * server, which hands them here (`Bitswap.deliver`). A block is matched to its want by hashing
 * it (the session verifies it again as it stores it, like every block).
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as varint from 'uint8-varint'
import { WANT_TIMEOUT } from '../../constants.js'
import { mhKey } from '../../store/index.js'
import { BlockChannel, peerIdOf } from '../channel.js'
import { No } from '../message.js'
import { lengthPrefixed, send } from '../send.js'
import { Message } from './message.js'
import { BITSWAP_110, BITSWAP_120 } from './server.js'
import type { Request } from '../message.js'
import type { ChannelResponse } from '../response-reader.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Answered and cancelled wants remembered per channel */
const MAX_RECENT = 4096
/** Wants in flight to one bitswap peer */
const MAX_BITSWAP_WINDOW = 8
/** Wants unanswered this long while the peer says nothing are sent again */
const REBROADCAST_INTERVAL = 1000
/** Opening a new wantlist stream when the peer closed the last */
const REOPEN_TIMEOUT = 10_000
/** Entries in one wantlist message (a peer refuses more: 1024 in Kubo and Helia) */
const MAX_ENTRIES_PER_MESSAGE = 512

const WANT_BLOCK = Message.Wantlist.WantType.Block
const WANT_HAVE = Message.Wantlist.WantType.Have

interface Pending {
  id: number
  cid: CID
  have: boolean
  resolve(res: ChannelResponse): void
  reject(err: Error): void
  timer: ReturnType<typeof setTimeout>
}

export class BitswapChannel extends BlockChannel {
  readonly peerId: string
  readonly protocol = 'bitswap'
  private stream?: Stream
  private readonly reopen: () => Promise<Stream>
  /** Entries waiting for the next message: the wants of one scheduling round go in one */
  private queued: Message.Wantlist.Entry[] = []
  private flushing?: Promise<void>
  private readonly rebroadcast: ReturnType<typeof setInterval>
  /** When the peer last answered anything, ms since the epoch */
  private lastAnswer = Date.now()
  /** Wants sent and not yet answered, by multihash */
  private readonly pending = new Map<string, Pending>()
  private nextId = 1
  /** Multihashes of wants answered or cancelled lately: a late copy of one is no lie */
  private readonly recent = new Set<string>()
  private closedWith?: Error
  private readonly closeListeners: Array<(err?: Error) => void> = []
  private readonly onClosed: (channel: BitswapChannel) => void

  constructor (peerId: string, stream: Stream, onClosed: (channel: BitswapChannel) => void, reopen: () => Promise<Stream>) {
    super()
    this.peerId = peerId
    this.onClosed = onClosed
    this.reopen = reopen
    this.use(stream)
    this.rebroadcast = setInterval(() => { this.resendIfQuiet() }, REBROADCAST_INTERVAL)
    this.rebroadcast.unref?.()
  }

  /** Open a wantlist stream to a peer (bitswap 1.2.0, else 1.1.0) */
  static async open (host: Pick<Libp2p, 'dialProtocol'>, target: PeerId | Multiaddr, onClosed: (channel: BitswapChannel) => void, signal?: AbortSignal): Promise<BitswapChannel> {
    const dial = async (s?: AbortSignal): Promise<Stream> => host.dialProtocol(target, [BITSWAP_120, BITSWAP_110], { signal: s })
    const stream = await dial(signal)
    return new BitswapChannel(peerIdOf(target), stream, onClosed, async () => dial(AbortSignal.timeout(REOPEN_TIMEOUT)))
  }

  /**
   * Send on `stream` from now on. IPFS nodes treat a wantlist stream as short-lived (Helia closes
   * one idle for 10 s): when the peer closes it, the next wants go on a new one, and every want
   * still unanswered is sent again on it
   */
  private use (stream: Stream): void {
    this.stream = stream
    stream.addEventListener('close', () => {
      if (this.stream !== stream || this.closedWith != null) return
      this.stream = undefined
      if (this.pending.size > 0) this.resendAll()
    })
  }

  /**
   * At most MAX_BITSWAP_WINDOW wants in flight: each may go in a message of its own, and a peer
   * that queues the messages it gets (Helia: 10 per peer) drops those past its queue
   */
  override observe (rttMs: number, bytes: number): void {
    super.observe(rttMs, bytes)
    this.window = Math.min(this.window, MAX_BITSWAP_WINDOW)
  }

  get closed (): boolean {
    return this.closedWith != null
  }

  onClose (fn: (err?: Error) => void): void {
    this.closeListeners.push(fn)
  }

  /** A have asks for one CID (want-have); a want for one block (want-block) */
  async request (req: Omit<Request, 'id'>, timeoutMs = WANT_TIMEOUT): Promise<{ id: number, response: Promise<ChannelResponse> }> {
    if (this.closedWith != null) throw this.closedWith
    const have = req.want == null
    const bytes = req.want?.cid ?? req.have?.cids[0]
    if (bytes == null || (req.have != null && req.have.cids.length !== 1)) throw new Error('a bitswap channel asks for one CID at a time')
    const cid = CID.decode(bytes)
    const key = mhKey(cid)
    const id = this.nextId++ >>> 0
    const response = new Promise<ChannelResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close(new Error(`peer ${this.peerId} did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      // the same CID asked again (a have, then a want) replaces the first ask
      const earlier = this.pending.get(key)
      if (earlier != null) this.settle(key, { id: earlier.id, no: { reason: No.Reason.CANCELLED, message: 'asked again' } })
      this.pending.set(key, { id, cid, have, resolve, reject, timer })
    })
    // keep an unobserved rejection from crashing the process; callers await `response`
    response.catch(() => {})
    await this.sendWants([{ block: cid.bytes, priority: 1, cancel: false, wantType: have ? WANT_HAVE : WANT_BLOCK, sendDontHave: true }])
    return { id, response }
  }

  async cancel (target: number): Promise<void> {
    for (const [key, p] of this.pending) {
      if (p.id !== target) continue
      this.settle(key, { id: p.id, no: { reason: No.Reason.CANCELLED, message: 'cancelled' } })
      await this.sendWants([{ block: p.cid.bytes, priority: 1, cancel: true, wantType: WANT_BLOCK, sendDontHave: false }]).catch(() => {})
      return
    }
  }

  /** A message the peer sent us: the blocks and presences that answer our wants */
  async deliver (message: Message): Promise<void> {
    this.lastAnswer = Date.now()
    const blocks = [
      ...message.payload.map(b => ({ mh: multihashOf(b.prefix), data: b.data })),
      ...message.blocks.map(data => ({ mh: { code: sha256.code, size: 32 }, data }))
    ]
    for (const { mh, data } of blocks) {
      // only SHA-256 is asked for here; anything else cannot answer our wants
      if (mh?.code !== sha256.code) continue
      const digest = await sha256.digest(data)
      const key = mhKey(CID.createV1(0x55, digest))
      const p = this.pending.get(key) ?? (this.recent.has(key) ? undefined : this.oldestWant())
      if (p == null) continue
      if (mhKey(p.cid) !== key) {
        // a block nobody asked for: bitswap has no request ids, so it answers the oldest want,
        // and the session finds it does not match, drops the peer and bans it like any liar
        this.settle(mhKey(p.cid), { id: p.id, block: { chunks: [data], byteLength: data.byteLength, release () {} } })
        continue
      }
      if (p.have) this.settle(key, { id: p.id, have: { have: [true] } })
      else this.settle(key, { id: p.id, block: { chunks: [data], byteLength: data.byteLength, release () {} } })
    }
    for (const presence of message.blockPresences) {
      let key: string
      try {
        key = mhKey(CID.decode(presence.cid))
      } catch {
        continue
      }
      const p = this.pending.get(key)
      if (p == null) continue
      const has = presence.type === Message.BlockPresenceType.Have
      if (p.have) this.settle(key, { id: p.id, have: { have: [has] } })
      // a HAVE for a want-block: the block follows
      else if (!has) this.settle(key, { id: p.id, no: { reason: No.Reason.NOT_FOUND, message: 'DONT_HAVE' } })
    }
  }

  close (err?: Error): void {
    if (this.closedWith != null) return
    this.closedWith = err ?? new Error('channel closed')
    for (const key of [...this.pending.keys()]) {
      const p = this.pending.get(key) as Pending
      clearTimeout(p.timer)
      this.pending.delete(key)
      p.reject(this.closedWith)
    }
    clearInterval(this.rebroadcast)
    this.queued = []
    if (err != null) this.stream?.abort(err)
    else void this.stream?.close().catch(() => {})
    this.onClosed(this)
    for (const fn of this.closeListeners) fn(err)
  }

  private settle (key: string, res: ChannelResponse): void {
    const p = this.pending.get(key)
    if (p == null) return
    clearTimeout(p.timer)
    this.pending.delete(key)
    this.recent.add(key)
    if (this.recent.size > MAX_RECENT) this.recent.delete(this.recent.values().next().value as string)
    p.resolve(res)
  }

  private oldestWant (): Pending | undefined {
    for (const p of this.pending.values()) if (!p.have) return p
    return undefined
  }

  /**
   * Queue wantlist entries; they go out together, in one message, once the current scheduling
   * round is done (a peer that queues each message it gets, as Helia does, drops messages past
   * its queue's length: one entry per message would lose wants)
   */
  private async sendWants (entries: Message.Wantlist.Entry[]): Promise<void> {
    this.queued.push(...entries)
    this.flushing ??= new Promise<void>(resolve => setImmediate(resolve)).then(async () => this.flush()).finally(() => { this.flushing = undefined })
    await this.flushing
  }

  private async flush (): Promise<void> {
    while (this.queued.length > 0 && this.closedWith == null) {
      const entries = this.queued.splice(0, MAX_ENTRIES_PER_MESSAGE)
      const message = lengthPrefixed(Message.encode({ wantlist: { entries, full: false }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 }))
      // a stream the peer closed as this was sent is replaced once; a second failure ends the channel
      for (let attempt = 0; ; attempt++) {
        try {
          this.stream ??= await this.openStream()
          await send(this.stream, message)
          break
        } catch (err: any) {
          this.stream = undefined
          if (attempt > 0 || this.closedWith != null) {
            this.close(err)
            throw err
          }
        }
      }
    }
  }

  private async openStream (): Promise<Stream> {
    const stream = await this.reopen()
    this.use(stream)
    return stream
  }

  /** Every want still unanswered, again (the peer may have dropped the messages that held them) */
  private resendAll (): void {
    if (this.closedWith != null || this.pending.size === 0) return
    const entries = [...this.pending.values()].map(p => ({ block: p.cid.bytes, priority: 1, cancel: false, wantType: p.have ? WANT_HAVE : WANT_BLOCK, sendDontHave: true }))
    this.lastAnswer = Date.now()
    void this.sendWants(entries).catch(() => {})
  }

  private resendIfQuiet (): void {
    if (this.pending.size > 0 && Date.now() - this.lastAnswer >= REBROADCAST_INTERVAL) this.resendAll()
  }
}

/** The multihash code and digest length a bitswap 1.1.0 prefix names */
function multihashOf (prefix: Uint8Array): { code: number, size: number } | undefined {
  try {
    let offset = 0
    const fields: number[] = []
    for (let i = 0; i < 4; i++) {
      const v = varint.decode(prefix, offset)
      fields.push(v)
      offset += varint.encodingLength(v)
    }
    return { code: fields[2], size: fields[3] }
  } catch {
    return undefined
  }
}
