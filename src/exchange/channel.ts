import { EXCHANGE_PROTOCOL, INITIAL_WINDOW, MAX_EXCHANGE_RESPONSE, MAX_WINDOW, WANT_TIMEOUT } from '../constants.js'
import { Request } from './message.js'
import { ResponseReader } from './response-reader.js'
import { lengthPrefixed, send } from './send.js'
import type { ChannelResponse } from './response-reader.js'
import type { Libp2p, PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

interface Pending {
  resolve(res: ChannelResponse): void
  reject(err: Error): void
  timer: ReturnType<typeof setTimeout>
}

/**
 * The wire protocol a channel speaks: shoal's own exchange, bitswap (IPFS nodes), or HTTP to a
 * trustless gateway
 */
export type ChannelProtocol = 'shoal' | 'bitswap' | 'http'

/**
 * What a fetch session asks of a channel to one peer, whatever protocol it speaks: requests
 * (have, want, cancel) answered as `ChannelResponse`s, and the peer's window of requests in
 * flight, adapted to its round-trip times: it grows while blocks come back near the fastest
 * time seen and shrinks when they queue up.
 */
export abstract class BlockChannel {
  abstract readonly peerId: string
  abstract readonly protocol: ChannelProtocol
  window = INITIAL_WINDOW
  inflight = 0
  /** Peers it was uploading to when it answered the session's `have` (undefined: not asked, or an older peer) */
  load?: number
  /** Fastest want round trip seen, ms */
  minRtt = Infinity
  bytes = 0
  blocks = 0

  abstract get closed (): boolean
  abstract onClose (fn: (err?: Error) => void): void
  /** Send a request; resolves with its response */
  abstract request (req: Omit<Request, 'id'>, timeoutMs?: number): Promise<{ id: number, response: Promise<ChannelResponse> }>
  abstract cancel (target: number): Promise<void>
  abstract close (err?: Error): void

  /**
   * Feed a delivered block into the window. The window covers the peer's bandwidth-delay
   * product with headroom: the measured delivery rate times twice the fastest round trip plus
   * 20 ms, in blocks, plus one. A fast peer gets a deep pipeline, a slow or capped one a short
   * queue, so work follows measured throughput.
   */
  observe (rttMs: number, bytes: number): void {
    const now = performance.now()
    this.bytes += bytes
    this.blocks++
    this.minRtt = Math.min(this.minRtt, Math.max(rttMs, 1))
    this.avgBlock = this.avgBlock === 0 ? bytes : this.avgBlock * 0.8 + bytes * 0.2
    if (this.lastDelivery > 0) {
      const instant = bytes / Math.max((now - this.lastDelivery) / 1000, 0.0005)
      this.rate = this.rate === 0 ? instant : this.rate * 0.8 + instant * 0.2
      const bdp = this.rate * (2 * this.minRtt + 20) / 1000
      this.window = Math.max(2, Math.min(MAX_WINDOW, Math.ceil(bdp / Math.max(this.avgBlock, 1)) + 1))
    }
    this.lastDelivery = now
  }

  /** Measured delivery rate, bytes per second */
  rate = 0
  private avgBlock = 0
  private lastDelivery = 0

  /** Asked for nothing until then (ms since the epoch): it said BUSY */
  pausedUntil = 0

  /** The peer said BUSY: its window is halved and it is paused for BUSY_PAUSE */
  busy (): void {
    this.window = Math.max(1, Math.floor(this.window / 2))
    this.pausedUntil = Date.now() + BUSY_PAUSE
  }
}

/**
 * One exchange stream to one peer: pipelined requests matched to responses by id
 */
export class PeerChannel extends BlockChannel {
  readonly peerId: string
  readonly protocol = 'shoal'
  private readonly stream: Stream
  private readonly reader = new ResponseReader(MAX_EXCHANGE_RESPONSE)
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closedWith?: Error
  private readonly closeListeners: Array<(err?: Error) => void> = []

  /** Called whenever the peer sends something on this channel (liveness for the peer's owner) */
  private readonly onHeard?: (peerId: string) => void

  private constructor (peerId: string, stream: Stream, onHeard?: (peerId: string) => void) {
    super()
    this.peerId = peerId
    this.stream = stream
    this.onHeard = onHeard
    // responses are parsed as they arrive, so nothing is buffered here beyond the one message
    // still arriving; the window bounds how many the server sends
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('remoteCloseWrite', this.onEnd)
    stream.addEventListener('close', this.onStreamClose)
  }

  static async open (host: Pick<Libp2p, 'dialProtocol'>, target: PeerId | Multiaddr, signal?: AbortSignal, onHeard?: (peerId: string) => void, onLimited = false): Promise<PeerChannel> {
    // `onLimited`: also on a relay's limited connection, where the server sends only what fits
    const stream = await host.dialProtocol(target, EXCHANGE_PROTOCOL, { signal, runOnLimitedConnection: onLimited })
    return new PeerChannel(peerIdOf(target), stream, onHeard)
  }

  get closed (): boolean {
    return this.closedWith != null
  }

  onClose (fn: (err?: Error) => void): void {
    this.closeListeners.push(fn)
  }

  /** Send a request; resolves with its response */
  async request (req: Omit<Request, 'id'>, timeoutMs = WANT_TIMEOUT): Promise<{ id: number, response: Promise<ChannelResponse> }> {
    if (this.closedWith != null) throw this.closedWith
    const id = this.nextId++ >>> 0
    const response = new Promise<ChannelResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close(new Error(`peer ${this.peerId} did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
    })
    // keep an unobserved rejection from crashing the process; callers await `response`
    response.catch(() => {})
    await send(this.stream, lengthPrefixed(Request.encode({ ...req, id })))
    return { id, response }
  }

  async cancel (target: number): Promise<void> {
    if (this.closedWith != null) return
    await send(this.stream, lengthPrefixed(Request.encode({ id: 0, cancel: { target } }))).catch(() => {})
  }

  close (err?: Error): void {
    if (this.closedWith != null) return
    this.closedWith = err ?? new Error('channel closed')
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(this.closedWith)
    }
    this.pending.clear()
    if (err != null) this.stream.abort(err)
    else void this.stream.close().catch(() => {})
    for (const fn of this.closeListeners) fn(err)
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.closedWith != null) return
    this.onHeard?.(this.peerId)
    let responses
    try {
      responses = this.reader.push(evt.data)
    } catch (err: any) {
      this.close(err)
      return
    }
    for (const res of responses) {
      const p = this.pending.get(res.id)
      if (p == null) {
        // answer to a request we gave up on
        res.block?.release()
        continue
      }
      this.pending.delete(res.id)
      clearTimeout(p.timer)
      p.resolve(res)
    }
  }

  /** The server closed its write end: fine unless answers are still owed */
  private readonly onEnd = (): void => {
    if (this.reader.midMessage) this.close(new Error(`peer ${this.peerId} closed the stream in the middle of a response`))
    else this.close(this.pending.size > 0 ? new Error(`peer ${this.peerId} closed the stream`) : undefined)
  }

  private readonly onStreamClose = (evt: StreamCloseEvent): void => {
    if (evt.error != null) this.close(evt.error)
    else this.onEnd()
  }
}

/** The peer id a dial target names (a multiaddr must end in /p2p/<id>) */
export function peerIdOf (target: PeerId | Multiaddr): string {
  if ('getComponents' in target) {
    const p2p = target.getComponents().find(c => c.name === 'p2p')?.value
    if (p2p == null) throw new Error(`multiaddr ${target.toString()} has no /p2p/<peer id>`)
    return p2p
  }
  return target.toString()
}

/** How long a peer that said BUSY is not asked again, ms */
export const BUSY_PAUSE = 1000
