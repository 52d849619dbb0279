/**
 * The frame stream the control API uses for streaming bodies (publish uploads, cat and get
 * downloads): varint-length-prefixed frames, each starting with a tag byte. Lengths are checked
 * before a frame is allocated. A stream ends with an END frame; one that stops without it is
 * truncated, and an ERROR frame carries a failure that happened after the response began.
 *
 *   HEADER 0x01 + JSON {path, kind, size?, target?}   starts an entry
 *   DATA   0x02 + bytes                                file bytes (of the entry before it)
 *   END    0x03                                        the stream is complete
 *   ERROR  0x04 + JSON {name, message, status}        the stream failed
 *
 * The length prefix is an unsigned varint, as it-length-prefixed writes it; it is written and read
 * here, as loading that library cost a `shoal cat` through the daemon a third of Node's start-up.
 */
import { MAX_ENTRY_FRAME } from '../constants.js'
import { InvalidArgumentError, RemoteError } from '../errors.js'
import { httpStatusOf } from '../http-status.js'
import type { ExportEntry, ImportEntry } from '../interface/types.js'

const HEADER = 0x01
const DATA = 0x02
const END = 0x03
const ERROR = 0x04

/** The largest data frame the encoder emits; larger chunks are split */
const MAX_DATA = 1024 * 1024

export const FRAMES_CONTENT_TYPE = 'application/vnd.shoal.frames'

export interface Entry {
  path: string
  kind: 'file' | 'directory' | 'symlink'
  size?: number
  target?: string
  content?: AsyncIterable<Uint8Array>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The most bytes a frame's length takes (a varint of up to 56 bits) */
const MAX_LENGTH_BYTES = 8

/** `n` as an unsigned varint */
function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

function frame (tag: number, body?: Uint8Array): Uint8Array {
  const size = 1 + (body?.byteLength ?? 0)
  const len = varint(size)
  const out = new Uint8Array(len.byteLength + size)
  out.set(len)
  out[len.byteLength] = tag
  if (body != null) out.set(body, len.byteLength + 1)
  return out
}

function jsonFrame (tag: number, value: unknown): Uint8Array {
  return frame(tag, encoder.encode(JSON.stringify(value)))
}

/** Bytes to DATA frames, one per chunk (split at 1 MiB); the chunk itself is not copied */
async function * dataFrames (content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of content) {
    for (let off = 0; off < chunk.byteLength; off += MAX_DATA) {
      const part = chunk.subarray(off, off + MAX_DATA)
      const len = varint(part.byteLength + 1)
      const head = new Uint8Array(len.byteLength + 1)
      head.set(len)
      head[len.byteLength] = DATA
      yield head
      yield part
    }
  }
}

/** Entries to frames; a failure becomes an ERROR frame so the reader learns why */
export async function * encodeEntries (entries: AsyncIterable<Entry | ImportEntry | ExportEntry>): AsyncGenerator<Uint8Array> {
  try {
    for await (const entry of entries) {
      yield jsonFrame(HEADER, { path: entry.path, kind: entry.kind, size: (entry as Entry).size, target: entry.target })
      if (entry.kind === 'file' && entry.content != null) {
        yield * dataFrames(entry.content)
      }
    }
    yield frame(END)
  } catch (err) {
    yield errorFrame(err)
  }
}

/** Bytes to frames, ending with END, or ERROR on failure */
export async function * encodeBytes (content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield * dataFrames(content)
    yield frame(END)
  } catch (err) {
    yield errorFrame(err)
  }
}

function errorFrame (err: any): Uint8Array {
  const status = httpStatusOf(err)
  return jsonFrame(ERROR, { name: err?.name ?? 'Error', message: err?.message ?? String(err), status })
}

function remoteError (body: Uint8Array): Error {
  try {
    const e = JSON.parse(decoder.decode(body))
    return new RemoteError(String(e.name), String(e.message), Number(e.status) || 500)
  } catch {
    return new InvalidArgumentError('malformed error frame')
  }
}

/**
 * The frames of a stream, each length checked against `maxFrame` before its bytes are gathered; a
 * frame that lies in one chunk of the source is handed on without a copy
 */
async function * lengthPrefixed (source: AsyncIterable<Uint8Array>, maxFrame: number): AsyncGenerator<Uint8Array> {
  const chunks: Uint8Array[] = []
  let buffered = 0
  /** The frame's length once its prefix is read */
  let want: number | undefined
  const take = (n: number): Uint8Array => {
    if (n === 0) return new Uint8Array(0)
    buffered -= n
    if (chunks[0].byteLength >= n) {
      const out = chunks[0].subarray(0, n)
      chunks[0] = chunks[0].subarray(n)
      if (chunks[0].byteLength === 0) chunks.shift()
      return out
    }
    const out = new Uint8Array(n)
    for (let at = 0; at < n;) {
      const c = chunks[0]
      const piece = c.subarray(0, n - at)
      out.set(piece, at)
      at += piece.byteLength
      if (piece.byteLength === c.byteLength) chunks.shift()
      else chunks[0] = c.subarray(piece.byteLength)
    }
    return out
  }
  /** The length prefix, or undefined while it is incomplete */
  const prefix = (): number | undefined => {
    let n = 0
    let scale = 1
    let i = 0
    for (const c of chunks) {
      for (const b of c) {
        if (++i > MAX_LENGTH_BYTES) throw new Error('frame length prefix is too long')
        n += (b & 0x7f) * scale
        scale *= 0x80
        if (b < 0x80) {
          take(i)
          return n
        }
      }
    }
    return undefined
  }
  for await (const chunk of source) {
    if (chunk.byteLength === 0) continue
    chunks.push(chunk)
    buffered += chunk.byteLength
    for (;;) {
      want ??= prefix()
      if (want == null) break
      if (want > maxFrame) throw new Error(`frame of ${want} bytes is larger than ${maxFrame}`)
      if (buffered < want) break
      const f = take(want)
      want = undefined
      yield f
    }
  }
  if (buffered > 0 || want != null) throw new Error('unexpected end of input')
}

class FrameReader {
  private readonly it: AsyncIterator<Uint8Array>
  private pending?: Uint8Array

  constructor (source: AsyncIterable<Uint8Array>, maxFrame: number) {
    this.it = lengthPrefixed(source, maxFrame)[Symbol.asyncIterator]()
  }

  async next (): Promise<Uint8Array> {
    if (this.pending != null) {
      const f = this.pending
      this.pending = undefined
      return f
    }
    let r
    try {
      r = await this.it.next()
    } catch (err: any) {
      throw new InvalidArgumentError(`bad frame stream: ${err.message}`)
    }
    if (r.done === true) throw new InvalidArgumentError('frame stream ended before its END frame (truncated)')
    const f = r.value
    if (f.byteLength === 0) throw new InvalidArgumentError('empty frame')
    return f
  }

  unread (f: Uint8Array): void {
    this.pending = f
  }
}

/** Frames to bytes; throws on ERROR or truncation */
export async function * decodeBytes (source: AsyncIterable<Uint8Array>, maxFrame = MAX_ENTRY_FRAME): AsyncGenerator<Uint8Array> {
  const reader = new FrameReader(source, maxFrame)
  while (true) {
    const f = await reader.next()
    if (f[0] === DATA) yield f.subarray(1)
    else if (f[0] === END) return
    else if (f[0] === ERROR) throw remoteError(f.subarray(1))
    else throw new InvalidArgumentError(`unexpected frame tag ${f[0]}`)
  }
}

/**
 * Frames to entries. A file's content must be read before the next entry is asked for;
 * whatever of it was not read is skipped.
 */
export async function * decodeEntries (source: AsyncIterable<Uint8Array>, maxFrame = MAX_ENTRY_FRAME): AsyncGenerator<Entry> {
  const reader = new FrameReader(source, maxFrame)
  while (true) {
    let f = await reader.next()
    // skip what the consumer left of the previous file
    while (f[0] === DATA) f = await reader.next()
    if (f[0] === END) return
    if (f[0] === ERROR) throw remoteError(f.subarray(1))
    if (f[0] !== HEADER) throw new InvalidArgumentError(`unexpected frame tag ${f[0]}`)
    const header = parseHeader(f.subarray(1))
    if (header.kind === 'file') {
      header.content = (async function * () {
        while (true) {
          const d = await reader.next()
          if (d[0] === DATA) {
            yield d.subarray(1)
          } else if (d[0] === ERROR) {
            throw remoteError(d.subarray(1))
          } else {
            reader.unread(d)
            return
          }
        }
      })()
    }
    yield header
  }
}

function parseHeader (body: Uint8Array): Entry {
  let h: any
  try {
    h = JSON.parse(decoder.decode(body))
  } catch {
    throw new InvalidArgumentError('entry header is not JSON')
  }
  if (typeof h?.path !== 'string' || h.path.length > 4096) {
    throw new InvalidArgumentError('entry header needs a path of at most 4096 characters')
  }
  if (h.kind !== 'file' && h.kind !== 'directory' && h.kind !== 'symlink') {
    throw new InvalidArgumentError(`entry "${h.path}" has an unknown kind`)
  }
  if (h.kind === 'symlink' && typeof h.target !== 'string') {
    throw new InvalidArgumentError(`symlink "${h.path}" has no target`)
  }
  const entry: Entry = { path: h.path, kind: h.kind }
  if (typeof h.size === 'number') entry.size = h.size
  if (typeof h.target === 'string') entry.target = h.target
  return entry
}
