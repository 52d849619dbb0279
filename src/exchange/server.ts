import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { EXCHANGE_PROTOCOL, MAX_BLOCK_SIZE, MAX_EXCHANGE_REQUEST, MAX_HAVE_CIDS, MAX_INBOUND_STREAMS_PER_CONNECTION } from '../constants.js'
import { No, Request, Response } from './message.js'
import { blockResponseHead } from './block-frame.js'
import { fits } from './limited.js'
import { lpMessages } from './lp-read.js'
import { send } from './send.js'
import { returnServeBuffer, returnWhenEncrypted, takeServeBuffer } from './serve-buffers.js'

import type { ExchangeComponents, ExchangeStats, ResolvedExchangeInit } from './index.js'
import type { Uploads } from './uploads.js'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/** Answers prepared ahead of the one being written: up to this many blocks in memory per stream */
const READ_AHEAD = 4
/** The connection encrypter whose encryption tells when a sent block's buffer is free again */
const NOISE = '/noise'

/** Pooled buffers (serve-buffers.ts) that answers' blocks were read into */
const reading = new WeakMap<Response, Uint8Array>()

/**
 * Serves blocks from the store. Each inbound stream has a reader that queues requests (at most
 * `maxRequestsPerStream`) and a writer that answers them in order, with at most `READ_AHEAD`
 * answers read from disk ahead of the one being sent, waiting for the stream to drain before the next.
 */
export class ExchangeServer {
  private readonly components: ExchangeComponents
  private readonly init: ResolvedExchangeInit
  private readonly log: Logger
  private readonly uploads: Uploads
  private inboundStreams = 0
  readonly stats: ExchangeStats['server'] = { streams: 0, blocksSent: 0, bytesSent: 0, busy: 0, notFound: 0, overBudget: 0, resets: 0 }

  /** Called for every request a peer sends (liveness for the peer's owner) */
  onHeard?: (peerId: string) => void

  constructor (components: ExchangeComponents, init: ResolvedExchangeInit, uploads: Uploads) {
    this.components = components
    this.init = init
    this.log = components.host.logger.forComponent('shoal:exchange:server')
    this.uploads = uploads
  }

  async start (): Promise<void> {
    await this.components.host.handle(EXCHANGE_PROTOCOL, (stream, connection) => {
      void this.handle(stream, connection)
    // on a limited (relayed) connection too: only blocks that fit its budget are sent (`fits`)
    }, { maxInboundStreams: MAX_INBOUND_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_INBOUND_STREAMS_PER_CONNECTION, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    await this.components.host.unhandle(EXCHANGE_PROTOCOL)
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    if (this.inboundStreams >= this.init.maxInboundStreams) {
      stream.abort(new Error('too many exchange streams'))
      this.stats.resets++
      return
    }
    this.inboundStreams++
    this.stats.streams++
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_EXCHANGE_REQUEST, maxBufferSize: MAX_EXCHANGE_REQUEST * 2 })
    const queue: Request[] = []
    const cancelled = new Set<number>()
    let wake: (() => void) | undefined
    let readerDone = false
    let failed: Error | undefined
    let hasSlot = false
    let streamBytes = 0

    const reader = (async () => {
      try {
        for await (const bytes of lpMessages(lp, stream)) {
          this.onHeard?.(peer)
          const req = Request.decode(bytes)
          if (req.cancel != null) {
            const target = req.cancel.target
            // only requests still queued can be cancelled, so the set stays bounded by the queue
            if (queue.some(q => q.id === target)) cancelled.add(target)
            continue
          }
          queue.push(req)
          if (queue.length > this.init.maxRequestsPerStream) {
            throw new Error(`more than ${this.init.maxRequestsPerStream} requests in flight`)
          }
          wake?.()
        }
      } catch (err: any) {
        failed = err
      } finally {
        readerDone = true
        wake?.()
      }
    })()

    // answers are prepared up to READ_AHEAD requests ahead (blocks read from disk while the
    // one before is on the wire) and written in request order
    const prepared: Array<Promise<Response>> = []
    const prepare = (req: Request): Promise<Response> => {
      if (cancelled.delete(req.id)) return Promise.resolve(no(req.id, No.Reason.CANCELLED, 'cancelled'))
      if (req.have != null && req.want == null) return this.answerHave(req)
      if (req.want != null && req.have == null) {
        if (!hasSlot) hasSlot = this.uploads.tryTake(peer)
        if (!hasSlot) {
          this.stats.busy++
          return Promise.resolve(no(req.id, No.Reason.BUSY, 'all upload slots are taken'))
        }
        return this.answerWant(req, connection)
      }
      return Promise.resolve(no(req.id, No.Reason.BAD_REQUEST, 'a request carries exactly one of have, want, cancel'))
    }
    try {
      while (true) {
        while (prepared.length < READ_AHEAD && queue.length > 0) {
          const p = prepare(queue.shift() as Request)
          p.catch(() => {})
          prepared.push(p)
        }
        const next = prepared.shift()
        if (next == null) {
          if (failed != null) throw failed
          if (readerDone) break
          await new Promise<void>(resolve => { wake = resolve })
          wake = undefined
          continue
        }
        let res = await next
        // checked as the block goes out, after the answers written before it were counted
        if (res.block != null && !fits(connection, res.block.data.byteLength)) {
          const pooled = reading.get(res)
          if (pooled != null) returnServeBuffer(pooled)
          res = no(res.id, No.Reason.OVER_BUDGET, `a block of ${res.block.data.byteLength} bytes does not fit what is left of this relayed connection's budget (${connection.limits?.bytes ?? '?'} bytes, ${connection.limits?.seconds ?? '?'} s)`)
          this.stats.overBudget++
        }
        const data = res.block?.data
        if (data != null) {
          const size = data.byteLength
          await this.uploads.rate.take(size)
          const pooled = reading.get(res)
          if (pooled != null) returnWhenEncrypted(pooled, data)
          // the block goes out as it came from the store, after a hand-encoded head, in one
          // send: on its own the head took a muxer frame and a noise message of its own
          await send(stream, new Uint8ArrayList(blockResponseHead(res.id, size), data))
          this.stats.blocksSent++
          this.stats.bytesSent += size
          streamBytes += size
        } else {
          await lp.write(Response.encode(res))
        }
      }
      await stream.close()
    } catch (err: any) {
      this.log('stream from %s reset: %s', peer, err.message)
      this.stats.resets++
      stream.abort(err)
    } finally {
      if (hasSlot) this.uploads.release(peer)
      this.inboundStreams--
      this.components.collector?.ended(streamBytes)
      await reader
    }
  }

  private async answerHave (req: Request): Promise<Response> {
    const cids = req.have?.cids ?? []
    if (cids.length === 0 || cids.length > MAX_HAVE_CIDS) {
      return no(req.id, No.Reason.BAD_REQUEST, `have asks for 1 to ${MAX_HAVE_CIDS} CIDs`)
    }
    const have: boolean[] = []
    for (const bytes of cids) {
      const cid = decodeCid(bytes)
      have.push(cid != null && await this.components.blocks.has(cid))
    }
    return { id: req.id, have: { have, load: this.uploads.active } }
  }

  private async answerWant (req: Request, connection: Connection): Promise<Response> {
    const cid = decodeCid(req.want?.cid ?? new Uint8Array())
    if (cid == null) return no(req.id, No.Reason.BAD_REQUEST, 'invalid CID')
    // over noise a block is read into a pooled buffer, back in the pool once it is encrypted
    const into = connection.encryption === NOISE ? takeServeBuffer() : undefined
    let data: Uint8Array
    try {
      data = await this.components.blocks.serveBytes(cid, { into })
    } catch (err: any) {
      if (into != null) returnServeBuffer(into)
      if (err.name === 'BlockTooLargeError') return no(req.id, No.Reason.TOO_LARGE, `block is over ${MAX_BLOCK_SIZE} bytes`)
      this.stats.notFound++
      return no(req.id, No.Reason.NOT_FOUND, 'not found')
    }
    const res: Response = { id: req.id, block: { data: data as Uint8Array<ArrayBuffer> } }
    if (into != null && data.buffer === into.buffer) {
      reading.set(res, into)
      return res
    }
    if (into != null) returnServeBuffer(into)
    // the store never accepts larger blocks; this guards a store edited by hand
    if (data.byteLength > MAX_BLOCK_SIZE) return no(req.id, No.Reason.TOO_LARGE, `block is over ${MAX_BLOCK_SIZE} bytes`)
    return res
  }
}

function no (id: number, reason: No.Reason, message: string): Response {
  return { id, no: { reason, message } }
}

export function decodeCid (bytes: Uint8Array): CID | undefined {
  try {
    return CID.decode(bytes)
  } catch {
    return undefined
  }
}

