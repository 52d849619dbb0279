import { Uint8ArrayList } from 'uint8arraylist'
import * as varint from 'uint8-varint'
import { InvalidMessageError } from '../errors.js'
import { MAX_BLOCK_HEAD, parseBlockResponseHead } from './block-frame.js'
import { takeBlockBuffer, returnBlockBuffer } from './block-buffers.js'
import { copyInto } from '../store/aligned.js'
import { Response } from './message.js'

/** A received block's bytes, in order */
export interface BlockBytes {
  chunks: Uint8Array[]
  byteLength: number
  /**
   * The bytes were hashed on arrival and match the CID asked for (a bitswap answer is matched to
   * its want that way): the session stores them without hashing them again
   */
  verified?: true
  /** Done with the bytes: a reused buffer goes back for the next block. Idempotent */
  release(): void
}

/** A `Response` whose block is a `BlockBytes` */
export type ChannelResponse = Omit<Response, 'block'> & { block?: BlockBytes }

/**
 * Splits a stream's bytes into length-prefixed `Response`s as they arrive, without the generic
 * length-prefixed reader's byte-at-a-time length reads and without collecting a block response
 * to decode it: a block response is recognised by its head (`parseBlockResponseHead`) as soon as
 * the head is in, and its data copied straight into a reused block buffer (see
 * block-buffers.ts) as it arrives. Every other message is collected and decoded by
 * `Response.decode`.
 *
 * The length prefix is checked against `maxLength` before any of the message is kept, and a
 * block buffer is taken only for a head whose lengths agree with the prefix; at most one
 * message that is still arriving is held here.
 */
export class ResponseReader {
  private readonly maxLength: number
  private readonly maxLengthLength: number
  /** Bytes of the length prefix read so far */
  private prefix: number[] = []
  /** Length of the message being read; -1 while reading its prefix */
  private need = -1
  /** Bytes of the message read so far */
  private got = 0
  private readonly head = new Uint8Array(MAX_BLOCK_HEAD)
  /** Where the message's bytes go once its head is read: a block buffer, or parts to decode */
  private block?: { id: number, buf: Uint8Array, written: number }
  private parts?: Uint8Array[]

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
      const headLength = Math.min(MAX_BLOCK_HEAD, this.need)
      if (this.got < headLength) {
        // the head: gathered, then parsed to decide where the rest goes
        const take = Math.min(headLength - this.got, chunk.byteLength - o)
        this.head.set(chunk.subarray(o, o + take), this.got)
        this.got += take
        o += take
        if (this.got === headLength) this.startBody(headLength)
      } else {
        const take = Math.min(this.need - this.got, chunk.byteLength - o)
        if (this.block != null) {
          copyInto(this.block.buf, chunk.subarray(o, o + take), this.block.written)
          this.block.written += take
        } else {
          this.parts?.push(chunk.subarray(o, o + take))
        }
        this.got += take
        o += take
      }
      if (this.got === this.need) this.finish(out)
    }
  }

  private startBody (headLength: number): void {
    const head = this.head.subarray(0, headLength)
    const parsed = parseBlockResponseHead(head, this.need)
    if (parsed == null) {
      this.parts = [head.slice()]
      return
    }
    const buf = takeBlockBuffer(this.need - parsed.dataOffset)
    copyInto(buf, head.subarray(parsed.dataOffset), 0)
    this.block = { id: parsed.id, buf, written: headLength - parsed.dataOffset }
  }

  private finish (out: ChannelResponse[]): void {
    const { block, parts } = this
    this.block = undefined
    this.parts = undefined
    this.got = 0
    this.need = -1
    if (block != null) out.push({ id: block.id, block: blockBytes(block.buf, true) })
    else out.push(decode(parts ?? []))
  }
}

function blockBytes (buf: Uint8Array, reused: boolean): BlockBytes {
  let released = false
  return {
    chunks: [buf],
    byteLength: buf.byteLength,
    release: () => {
      if (released || !reused) return
      released = true
      returnBlockBuffer(buf)
    }
  }
}

function decode (parts: Uint8Array[]): ChannelResponse {
  const res = Response.decode(parts.length === 1 ? parts[0] : new Uint8ArrayList(...parts))
  const { block, ...rest } = res
  return block == null ? rest : { ...rest, block: blockBytes(block.data, false) }
}

/** A copy of a block's bytes in one new buffer, to keep after the block is released */
export function copyBlock (block: BlockBytes): Uint8Array {
  return Buffer.concat(block.chunks, block.byteLength)
}
