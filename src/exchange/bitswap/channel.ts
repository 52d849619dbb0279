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
  private readonly stream: Stream
  /** Wants sent and not yet answered, by multihash */
  private readonly pending = new Map<string, Pending>()
  private nextId = 1
  /** Multihashes of wants answered or cancelled lately: a late copy of one is no lie */
  private readonly recent = new Set<string>()
  private closedWith?: Error
  private readonly closeListeners: Array<(err?: Error) => void> = []
  private readonly onClosed: (channel: BitswapChannel) => void

  constructor (peerId: string, stream: Stream, onClosed: (channel: BitswapChannel) => void) {
    super()
    this.peerId = peerId
    this.stream = stream
    this.onClosed = onClosed
    stream.addEventListener('close', (evt) => { this.close(evt.error) })
  }

  /** Open a wantlist stream to a peer (bitswap 1.2.0, else 1.1.0) */
  static async open (host: Pick<Libp2p, 'dialProtocol'>, target: PeerId | Multiaddr, onClosed: (channel: BitswapChannel) => void, signal?: AbortSignal): Promise<BitswapChannel> {
    const stream = await host.dialProtocol(target, [BITSWAP_120, BITSWAP_110], { signal })
    return new BitswapChannel(peerIdOf(target), stream, onClosed)
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
    if (err != null) this.stream.abort(err)
    else void this.stream.close().catch(() => {})
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

  private async sendWants (entries: Message.Wantlist.Entry[]): Promise<void> {
    await send(this.stream, lengthPrefixed(Message.encode({ wantlist: { entries, full: false }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 })))
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
