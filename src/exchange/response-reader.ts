import { Uint8ArrayList } from 'uint8arraylist'
import * as varint from 'uint8-varint'
import { InvalidMessageError } from '../errors.js'
import { MAX_BLOCK_HEAD, parseBlockResponseHead } from './block-frame.js'
import { Response } from './message.js'

/** A block's bytes as they came off the stream: views of the chunks it arrived in, in order */
export interface BlockBytes {
  chunks: Uint8Array[]
  byteLength: number
}

/** A `Response` whose block, if any, is still in chunks */
export type ChannelResponse = Omit<Response, 'block'> & { block?: BlockBytes }

/**
 * Splits a stream's bytes into length-prefixed `Response`s as they arrive, without the generic
 * length-prefixed reader's byte-at-a-time length reads and without copying a message into one
 * buffer to decode it: a block response is recognised by its head (`parseBlockResponseHead`) and
 * its data handed on as views of the chunks that carried it. Every other message is joined and
 * decoded by `Response.decode`.
 *
 * The length prefix is checked against `maxLength` before any of the message is kept, and nothing
 * is allocated for a message's body, so a hostile length costs nothing; at most one message that
 * is still arriving is held here.
 */
export class ResponseReader {
  private readonly maxLength: number
  private readonly maxLengthLength: number
  /** Bytes of the length prefix read so far */
  private prefix: number[] = []
  /** Length of the message being read; -1 while reading its prefix */
  private need = -1
  private parts: Uint8Array[] = []
  private got = 0

  constructor (maxLength: number) {
    this.maxLength = maxLength
    this.maxLengthLength = varint.encodingLength(maxLength)
  }

  /** Whether a message is partly read (the stream ending now would truncate it) */
  get midMessage (): boolean {
    return this.need >= 0 || this.prefix.length > 0
  }

  /** Feed bytes from the stream; returns the messages they complete. Throws on a violation */
  push (data: Uint8Array | Uint8ArrayList): ChannelResponse[] {
    const out: ChannelResponse[] = []
    if (data instanceof Uint8Array) {
      this.pushChunk(data, out)
    } else {
      for (const chunk of data) this.pushChunk(chunk, out)
    }
    return out
  }

  private pushChunk (chunk: Uint8Array, out: ChannelResponse[]): void {
    let o = 0
    while (o < chunk.byteLength) {
      if (this.need < 0) {
        const b = chunk[o++]
        this.prefix.push(b)
        if ((b & 0x80) !== 0) {
          if (this.prefix.length >= this.maxLengthLength) throw new InvalidMessageError('response length prefix too long')
          continue
        }
        let length = 0
        for (let i = 0; i < this.prefix.length; i++) length += (this.prefix[i] & 0x7f) * 2 ** (7 * i)
        this.prefix = []
        if (length > this.maxLength) throw new InvalidMessageError(`response of ${length} bytes is over the ${this.maxLength} byte limit`)
        this.need = length
        if (length === 0) this.finish(out)
        continue
      }
      const take = Math.min(this.need - this.got, chunk.byteLength - o)
      this.parts.push(o === 0 && take === chunk.byteLength ? chunk : chunk.subarray(o, o + take))
      this.got += take
      o += take
      if (this.got === this.need) this.finish(out)
    }
  }

  private finish (out: ChannelResponse[]): void {
    const parts = this.parts
    const length = this.need
    this.parts = []
    this.got = 0
    this.need = -1
    out.push(decode(parts, length))
  }
}

function decode (parts: Uint8Array[], length: number): ChannelResponse {
  const head = firstBytes(parts, Math.min(MAX_BLOCK_HEAD, length))
  const block = parseBlockResponseHead(head, length)
  if (block != null) {
    const chunks = skip(parts, block.dataOffset)
    return { id: block.id, block: { chunks, byteLength: length - block.dataOffset } }
  }
  const res = Response.decode(parts.length === 1 ? parts[0] : new Uint8ArrayList(...parts))
  const { block: decoded, ...rest } = res
  if (decoded == null) return rest
  return { ...rest, block: { chunks: [decoded.data], byteLength: decoded.data.byteLength } }
}

/** The first `n` bytes of a list of chunks, as one array (a view when the first chunk has them) */
function firstBytes (parts: Uint8Array[], n: number): Uint8Array {
  if (parts.length === 0) return new Uint8Array(0)
  if (parts[0].byteLength >= n) return parts[0].subarray(0, n)
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    if (o >= n) break
    const t = Math.min(p.byteLength, n - o)
    out.set(p.subarray(0, t), o)
    o += t
  }
  return out
}

/** The chunks after the first `n` bytes, as views */
function skip (parts: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const p of parts) {
    if (n >= p.byteLength) {
      n -= p.byteLength
      continue
    }
    out.push(n > 0 ? p.subarray(n) : p)
    n = 0
  }
  return out
}

/** One buffer with a block's bytes: a view when it arrived in one chunk, else a copy */
export function joinBlock (block: BlockBytes): Uint8Array {
  if (block.chunks.length === 1) return block.chunks[0]
  return Buffer.concat(block.chunks, block.byteLength)
}
