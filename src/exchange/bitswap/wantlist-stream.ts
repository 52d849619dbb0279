/**
 * The stream a bitswap channel sends its wantlist on. IPFS nodes treat a wantlist stream as
 * short-lived (Helia closes one idle for 10 s): when the peer closes it, the next message goes
 * on a new one, and the channel is told so it can send the wants out at the peer again (one sent
 * as the stream closed may not have arrived). Entries queued in one scheduling round go out
 * together, in one message: a peer that queues each message it gets, as Helia does, drops
 * messages past its queue's length, though not the wants in them.
 */
import { lengthPrefixed, send } from '../send.js'
import { Message } from './message.js'
import type { Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Entries in one wantlist message (a peer refuses more: 1024 in Kubo and Helia) */
const MAX_ENTRIES_PER_MESSAGE = 512

export interface WantlistStreamEvents {
  /** The peer closed the stream: the wants out at it may not all have arrived */
  onPeerClosed(): void
  /** A message could not be sent on a new stream either: the channel is over */
  onFailed(err: Error): void
}

export class WantlistStream {
  private stream?: Stream
  private readonly reopen: () => Promise<Stream>
  private readonly events: WantlistStreamEvents
  private queued: Message.Wantlist.Entry[] = []
  private flushing?: Promise<void>
  private closed = false

  constructor (stream: Stream, reopen: () => Promise<Stream>, events: WantlistStreamEvents) {
    this.reopen = reopen
    this.events = events
    this.use(stream)
  }

  /** Queue entries; they go out with the others queued in this scheduling round */
  async send (entries: Message.Wantlist.Entry[]): Promise<void> {
    this.queued.push(...entries)
    this.flushing ??= new Promise<void>(resolve => setImmediate(resolve)).then(async () => this.flush()).finally(() => { this.flushing = undefined })
    await this.flushing
  }

  close (err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.queued = []
    if (err != null) this.stream?.abort(err)
    else void this.stream?.close().catch(() => {})
  }

  private use (stream: Stream): void {
    this.stream = stream
    stream.addEventListener('close', () => {
      if (this.stream !== stream || this.closed) return
      this.stream = undefined
      this.events.onPeerClosed()
    })
  }

  private async flush (): Promise<void> {
    while (this.queued.length > 0 && !this.closed) {
      const entries = this.queued.splice(0, MAX_ENTRIES_PER_MESSAGE)
      const message = lengthPrefixed(Message.encode({ wantlist: { entries, full: false }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 }))
      // a stream the peer closed as this was sent is replaced once; a second failure ends the channel
      for (let attempt = 0; ; attempt++) {
        try {
          if (this.stream == null) this.use(await this.reopen())
          await send(this.stream as Stream, message)
          break
        } catch (err: any) {
          this.stream = undefined
          if (attempt > 0 || this.closed) {
            this.events.onFailed(err)
            throw err
          }
        }
      }
    }
  }
}

export function wantEntry (cid: CID, have: boolean): Message.Wantlist.Entry {
  return { block: cid.bytes, priority: 1, cancel: false, wantType: have ? Message.Wantlist.WantType.Have : Message.Wantlist.WantType.Block, sendDontHave: true }
}

export function cancelEntry (cid: CID): Message.Wantlist.Entry {
  return { block: cid.bytes, priority: 1, cancel: true, wantType: Message.Wantlist.WantType.Block, sendDontHave: false }
}
