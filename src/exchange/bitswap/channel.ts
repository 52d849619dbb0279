/**
 * A fetch session's channel to a peer that speaks bitswap only (an IPFS node): the session's
 * requests become wantlist entries (want-block and want-have, DONT_HAVE asked for), sent on a
 * stream this side opens; the answers come back on streams the peer opens, read by the bitswap
 * server, which hands them here, hashed once for every channel to the peer (received.ts). A
 * block is matched to its want by its hash; a block that matches is handed on as verified, so
 * the session does not hash it again.
 *
 * How many wants are out at the peer is bounded by the bytes their answers will take, not by
 * their number (see ANSWER_BUDGET): the rest wait here and go out as answers come in.
 */
import { CID } from 'multiformats/cid'
import { MAX_BLOCK_SIZE, MiB, WANT_TIMEOUT, second } from '../../constants.js'
import { mhKey } from '../../store/index.js'
import { BlockChannel, peerIdOf } from '../channel.js'
import { No } from '../message.js'
import { Message } from './message.js'
import { BITSWAP_110, BITSWAP_120 } from './server.js'
import { WantlistStream, cancelEntry, wantEntry } from './wantlist-stream.js'
import type { Received, Receiver } from './received.js'
import type { Request } from '../message.js'
import type { BlockBytes, ChannelResponse } from '../response-reader.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Answered and cancelled wants remembered per channel */
const MAX_RECENT = 4096
/**
 * Wants the session may have out on one bitswap peer, counting those waiting here and blocks
 * received and still being stored. With 1 MiB blocks, 3 to a round: ROUNDS_AHEAD rounds out (6),
 * the round just answered still being stored (3), and the next round ready here (3).
 * Helia's queue of 10 messages per peer, which the earlier cap of 8 was set against, drops a
 * message but not the wants in it (they are in its ledger before the message is queued).
 */
const MAX_BITSWAP_WINDOW = 12
/**
 * Bytes of blocks asked for in one round, at most. An IPFS node answers all the wants it holds
 * at once, in one round, on a new stream, and libp2p (3.x) aborts an inbound stream when more
 * than 4 MiB arrive on it before its handler reads, which happens whenever this peer is busy as
 * the answer arrives: the blocks on it are lost, and Helia will not send a block again for 5 s.
 * Asking for no more than fits in one such stream keeps every answer whole. The margin is for
 * the framing of the messages and blocks on it.
 */
const ANSWER_BUDGET = 4 * MiB - 64 * 1024
/**
 * Rounds out at once, so that the peer has the next round's wants as it finishes one and is never
 * idle waiting for them. A round is sent only once the peer has begun the one before (an answer of
 * it has come, or every round before it is answered: the peer begins the next round as soon as it
 * has sent one, before this side has read it): wants that reached the peer before it began a round
 * would be answered in that round, two rounds in one stream.
 */
const ROUNDS_AHEAD = 2
/**
 * Wants out at a peer that has said nothing for this long (at least; longer while the answers out
 * take longer than that to arrive at the rate measured, see `quietLimit`) are cancelled and asked
 * for again: a lost round the bitswap server cannot see (a stream aborted before its protocol was
 * even agreed never reaches it) would otherwise be waited for until WANT_TIMEOUT. Checked this
 * often, too. After the rounds above, no run of bench/bitswap here has needed it.
 */
const RESEND_INTERVAL = 1 * second
/** The delivery rate assumed of a peer before one is measured, bytes per second */
const ASSUMED_RATE = 1_000_000
/** Opening a new wantlist stream when the peer closed the last */
const REOPEN_TIMEOUT = 10 * second

/** Wants sent together, which the peer answers in one round */
interface Round {
  /** Wants of it not answered yet */
  left: number
  /** The bytes expected of its blocks */
  bytes: number
  /** The peer has begun answering it (see ROUNDS_AHEAD) */
  begun: boolean
}

interface Pending {
  id: number
  cid: CID
  have: boolean
  /** The round it was sent in; undefined while it waits here */
  round?: Round
  resolve(res: ChannelResponse): void
  reject(err: Error): void
  timer: ReturnType<typeof setTimeout>
}

export class BitswapChannel extends BlockChannel implements Receiver {
  readonly peerId: string
  readonly protocol = 'bitswap'
  private readonly wantlist: WantlistStream
  private readonly resendTimer: ReturnType<typeof setInterval>
  /** When the peer last answered anything, ms since the epoch */
  private lastAnswer = Date.now()
  /** Wants asked for by the session and not yet answered, by multihash, in the order asked */
  private readonly pending = new Map<string, Pending>()
  /** Rounds out at the peer, oldest first */
  private rounds: Round[] = []
  private asking?: ReturnType<typeof setImmediate>
  /** Set while wants out are being cancelled, to be asked for again once that is sent */
  private cancelling = false
  /** The largest block received so far, by codec: the size expected of the next one */
  private readonly largest = new Map<number, number>()
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
    this.wantlist = new WantlistStream(stream, reopen, {
      onPeerClosed: () => { this.resend(false) },
      onFailed: (err) => { this.close(err) }
    })
    this.resendTimer = setInterval(() => { this.resendIfQuiet() }, RESEND_INTERVAL)
    this.resendTimer.unref?.()
  }

  /** Open a wantlist stream to a peer (bitswap 1.2.0, else 1.1.0) */
  static async open (host: Pick<Libp2p, 'dialProtocol'>, target: PeerId | Multiaddr, onClosed: (channel: BitswapChannel) => void, signal?: AbortSignal): Promise<BitswapChannel> {
    const dial = async (s?: AbortSignal): Promise<Stream> => host.dialProtocol(target, [BITSWAP_120, BITSWAP_110], { signal: s })
    const stream = await dial(signal)
    return new BitswapChannel(peerIdOf(target), stream, onClosed, async () => dial(AbortSignal.timeout(REOPEN_TIMEOUT)))
  }

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
      if (earlier != null) this.settle(key, { id: earlier.id, no: { reason: No.Reason.CANCELLED, message: 'asked again' } }, false)
      this.pending.set(key, { id, cid, have, resolve, reject, timer })
    })
    // keep an unobserved rejection from crashing the process; callers await `response`
    response.catch(() => {})
    this.ask()
    return { id, response }
  }

  async cancel (target: number): Promise<void> {
    for (const [key, p] of this.pending) {
      if (p.id !== target) continue
      const sent = p.round != null
      this.settle(key, { id: p.id, no: { reason: No.Reason.CANCELLED, message: 'cancelled' } }, false)
      if (sent) await this.sendWants([cancelEntry(p.cid)]).catch(() => {})
      return
    }
  }

  /**
   * A message the peer sent us, its blocks hashed (received.ts): the blocks and presences that
   * answer our wants. Every channel to the peer (one per session) is handed every message;
   * `askedElsewhere` tells whether another asked for a block, which is then not taken as a wrong
   * answer to one of ours
   */
  deliver (received: Received, askedElsewhere: (key: string) => boolean = () => false): void {
    this.lastAnswer = Date.now()
    for (const { key, data, hold } of received.blocks) {
      if (this.closedWith != null) return
      const p = this.pending.get(key) ?? (this.asked(key) || askedElsewhere(key) ? undefined : this.oldestWant())
      if (p == null) continue
      const block = (verified: boolean): BlockBytes => {
        return { chunks: [data], byteLength: data.byteLength, ...(verified ? { verified: true } : {}), release: hold() }
      }
      if (mhKey(p.cid) !== key) {
        // a block nobody asked for: bitswap has no request ids, so it answers the oldest want,
        // and the session finds it does not match, drops the peer and bans it like any liar
        this.settle(mhKey(p.cid), { id: p.id, block: block(false) })
        continue
      }
      this.largest.set(p.cid.code, Math.max(this.largest.get(p.cid.code) ?? 0, data.byteLength))
      if (p.have) this.settle(key, { id: p.id, have: { have: [true] } })
      else this.settle(key, { id: p.id, block: block(true) })
    }
    for (const presence of received.presences) {
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

  /** Whether a block (by its multihash key, `mhKey`) was asked for here, lately or still */
  asked (key: string): boolean {
    return this.pending.has(key) || this.recent.has(key)
  }

  /**
   * A stream the peer opened to us ended before it was read whole: the answers on it are lost,
   * and the peer believes them sent. Everything out at the peer is asked for again
   */
  answersLost (): void {
    this.resend(true)
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
    this.rounds = []
    clearImmediate(this.asking)
    clearInterval(this.resendTimer)
    this.wantlist.close(err)
    this.onClosed(this)
    for (const fn of this.closeListeners) fn(err)
  }

  /** `answered`: by the peer (not cancelled here), which shows it has begun the want's round */
  private settle (key: string, res: ChannelResponse, answered = true): void {
    const p = this.pending.get(key)
    if (p == null) return
    clearTimeout(p.timer)
    this.pending.delete(key)
    if (p.round != null) {
      if (answered) p.round.begun = true
      if (--p.round.left === 0) {
        this.rounds = this.rounds.filter(r => r !== p.round)
        // the peer began the next round as it finished sending this one
        if (answered && this.rounds.length > 0) this.rounds[0].begun = true
      }
    }
    this.recent.add(key)
    if (this.recent.size > MAX_RECENT) this.recent.delete(this.recent.values().next().value as string)
    p.resolve(res)
    this.ask()
  }

  private oldestWant (): Pending | undefined {
    for (const p of this.pending.values()) if (!p.have) return p
    return undefined
  }

  /** The size a block of this CID is expected to have: the largest of its codec seen so far */
  private expected (p: Pending): number {
    return p.have ? 0 : this.largest.get(p.cid.code) ?? MAX_BLOCK_SIZE
  }

  /** Send the waiting wants once the current scheduling round has asked for all it will */
  private ask (): void {
    if (this.closedWith != null || this.asking != null) return
    this.asking = setImmediate(() => {
      this.asking = undefined
      this.sendRound()
    })
  }

  /**
   * The waiting wants, in the order asked, as one round: as many as fit in ANSWER_BUDGET (one
   * always goes, whatever its size), unless ROUNDS_AHEAD are out already
   */
  private sendRound (): void {
    if (this.closedWith != null || this.cancelling || this.rounds.length >= ROUNDS_AHEAD) return
    if (this.rounds.length > 0 && !this.rounds[this.rounds.length - 1].begun) return
    const round: Round = { left: 0, bytes: 0, begun: false }
    const entries: Message.Wantlist.Entry[] = []
    for (const p of this.pending.values()) {
      if (p.round != null) continue
      const size = this.expected(p)
      if (entries.length > 0 && round.bytes + size > ANSWER_BUDGET) break
      p.round = round
      round.left++
      round.bytes += size
      entries.push(wantEntry(p.cid, p.have))
    }
    if (entries.length === 0) return
    this.rounds.push(round)
    void this.sendWants(entries).catch(() => {})
  }

  private async sendWants (entries: Message.Wantlist.Entry[]): Promise<void> {
    await this.wantlist.send(entries)
  }

  /**
   * The wants out at the peer, again. `cancelFirst`: they are cancelled, in a message of their
   * own, then asked for in new rounds; Helia ignores a want for a block it sent in the last 5 s,
   * so a block lost on the way is sent again only after a cancel
   */
  private resend (cancelFirst: boolean): void {
    if (this.closedWith != null || this.cancelling) return
    const out = [...this.pending.values()].filter(p => p.round != null)
    if (out.length === 0) return
    this.lastAnswer = Date.now()
    if (!cancelFirst) {
      void this.sendWants(out.map(p => wantEntry(p.cid, p.have))).catch(() => {})
      return
    }
    this.cancelling = true
    void this.sendWants(out.map(p => cancelEntry(p.cid))).catch(() => {}).finally(() => {
      this.cancelling = false
      for (const p of this.pending.values()) p.round = undefined
      this.rounds = []
      this.ask()
    })
  }

  private resendIfQuiet (): void {
    if (Date.now() - this.lastAnswer >= this.quietLimit()) this.resend(true)
  }

  /**
   * How long the peer may say nothing while wants are out: twice the time their blocks take at
   * the rate measured, and at least RESEND_INTERVAL (a slow peer is not asked again for blocks
   * still on their way)
   */
  private quietLimit (): number {
    const bytes = this.rounds.reduce((n, r) => n + r.bytes, 0)
    const rate = this.rate > 0 ? this.rate : ASSUMED_RATE
    return Math.max(RESEND_INTERVAL, 2 * bytes / rate * second)
  }
}
