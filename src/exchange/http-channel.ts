/**
 * A fetch session's channel to a trustless HTTP gateway (an IPFS gateway, or another shoal
 * peer's gateway): each want is `GET /ipfs/CID?format=raw` (the trustless gateway spec's raw
 * block response), each have a `HEAD` of the same. What comes back is a block like any other:
 * the session verifies it against its CID before it is stored, and drops a gateway that lies.
 */
import { CID } from 'multiformats/cid'
import { MAX_BLOCK_SIZE, WANT_TIMEOUT } from '../constants.js'
import { BlockChannel } from './channel.js'
import { No } from './message.js'
import type { Request } from './message.js'
import type { ChannelResponse } from './response-reader.js'

const RAW_BLOCK = 'application/vnd.ipld.raw'
/** Requests in flight to one gateway */
const HTTP_WINDOW = 8

export class HttpChannel extends BlockChannel {
  /** The gateway's origin (`http://host:port`): it stands for a peer id in the session */
  readonly peerId: string
  readonly protocol = 'http'
  private readonly base: URL
  private readonly requests = new Map<number, AbortController>()
  private nextId = 1
  private closedWith?: Error
  private readonly closeListeners: Array<(err?: Error) => void> = []

  constructor (base: URL) {
    super()
    this.base = base
    this.peerId = base.origin
    this.window = HTTP_WINDOW
  }

  /** The gateway a `--from` value names, if it is an http(s) URL */
  static parse (from: string): URL | undefined {
    if (!/^https?:\/\//i.test(from)) return undefined
    try {
      const url = new URL(from)
      return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
    } catch {
      return undefined
    }
  }

  get closed (): boolean {
    return this.closedWith != null
  }

  onClose (fn: (err?: Error) => void): void {
    this.closeListeners.push(fn)
  }

  async request (req: Omit<Request, 'id'>, timeoutMs = WANT_TIMEOUT): Promise<{ id: number, response: Promise<ChannelResponse> }> {
    if (this.closedWith != null) throw this.closedWith
    const id = this.nextId++ >>> 0
    const bytes = req.want?.cid ?? req.have?.cids[0]
    if (bytes == null || (req.have != null && req.have.cids.length !== 1)) throw new Error('an HTTP channel asks for one CID at a time')
    const cid = CID.decode(bytes)
    const abort = new AbortController()
    this.requests.set(id, abort)
    const response = this.get(id, cid, req.want == null, AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]))
      .finally(() => this.requests.delete(id))
    response.catch(() => {})
    return { id, response }
  }

  async cancel (target: number): Promise<void> {
    this.requests.get(target)?.abort(new Error('cancelled'))
  }

  close (err?: Error): void {
    if (this.closedWith != null) return
    this.closedWith = err ?? new Error('channel closed')
    for (const abort of this.requests.values()) abort.abort(this.closedWith)
    this.requests.clear()
    for (const fn of this.closeListeners) fn(err)
  }

  private async get (id: number, cid: CID, have: boolean, signal: AbortSignal): Promise<ChannelResponse> {
    const url = new URL(`/ipfs/${cid.toString()}?format=raw`, this.base)
    let res: Response
    try {
      res = await fetch(url, { method: have ? 'HEAD' : 'GET', headers: { accept: RAW_BLOCK }, signal, redirect: 'error' })
    } catch (err: any) {
      if (this.requests.get(id)?.signal.reason?.message === 'cancelled') return { id, no: { reason: No.Reason.CANCELLED, message: 'cancelled' } }
      throw new Error(`gateway ${this.peerId}: ${err.cause?.message ?? err.message}`)
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel()
      return have ? { id, have: { have: [false] } } : { id, no: { reason: No.Reason.NOT_FOUND, message: `HTTP ${res.status}` } }
    }
    if (res.status !== 200) {
      await res.body?.cancel()
      throw new Error(`gateway ${this.peerId} answered HTTP ${res.status} for ${cid}`)
    }
    if (have) return { id, have: { have: [true] } }
    const data = await readCapped(res, MAX_BLOCK_SIZE)
    return { id, block: { chunks: [data], byteLength: data.byteLength, release () {} } }
  }
}

/** A response's body, refused past `max` bytes before more of it is kept */
async function readCapped (res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > max) {
    await res.body?.cancel()
    throw new Error(`a block of ${declared} bytes is over the ${max}-byte limit`)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength
    if (size > max) throw new Error(`a block over the ${max}-byte limit`)
    chunks.push(chunk)
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}
