/**
 * One call to the daemon's control API on a socket of its own: an HTTP/1.1 POST with a JSON body
 * and `Connection: close`, its answer read as the daemon's server writes it (a body of
 * `Content-Length` bytes, or chunked). Loading and setting up node:http cost a command through
 * the daemon about a fifth of Node's own start-up; the calls that stream a request body (publish,
 * import) still go through it.
 */
import net from 'node:net'

/** The longest status line and headers taken */
const MAX_HEAD = 64 * 1024
/** The longest chunk-size line (with extensions) or trailer line taken */
const MAX_LINE = 4 * 1024

export interface WireRequest {
  /** HOST:PORT, the host in brackets when it is an IPv6 address */
  address: string
  /** The request target: /api/v0/... */
  path: string
  headers: Record<string, string>
  body: string
  /** How long connecting may take before `onTimeout` ends it */
  connectTimeoutMs: number
  /** The error a connection that takes too long fails with */
  onTimeout(): Error
  signal?: AbortSignal
}

export interface WireReply {
  statusCode: number
  /** The body; a connection that ends before the body does fails the read (code ECONNRESET) */
  body: AsyncIterable<Buffer>
}

/** An error as node:http gives it, with the code callers branch on */
function coded (message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

function splitAddress (address: string): { host: string, port: number } {
  const colon = address.lastIndexOf(':')
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
  return { host, port: Number(address.slice(colon + 1)) }
}

/** Bytes from a socket, read by line or by count */
class Reader {
  private readonly it: AsyncIterator<Buffer>
  private pending: Buffer = Buffer.alloc(0)

  constructor (source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]()
  }

  /** More bytes into `pending`; false at the end of the stream */
  private async fill (): Promise<boolean> {
    const r = await this.it.next()
    if (r.done === true) return false
    this.pending = this.pending.length === 0 ? r.value : Buffer.concat([this.pending, r.value])
    return true
  }

  /** Up to `\r\n` (not included); fails past `max` bytes or at the end */
  async line (max: number): Promise<string> {
    let from = 0
    for (;;) {
      const end = this.pending.indexOf('\r\n', Math.max(0, from - 1))
      if (end >= 0) {
        const text = this.pending.toString('latin1', 0, end)
        this.pending = this.pending.subarray(end + 2)
        return text
      }
      if (this.pending.length > max) throw coded('the daemon sent a malformed answer (line too long)', 'HPE_HEADER_OVERFLOW')
      from = this.pending.length
      if (!await this.fill()) throw coded('aborted', 'ECONNRESET')
    }
  }

  /** Between 1 and `max` bytes; undefined at the end of the stream */
  async some (max: number): Promise<Buffer | undefined> {
    if (this.pending.length === 0 && !await this.fill()) return undefined
    const piece = this.pending.subarray(0, max)
    this.pending = this.pending.subarray(piece.length)
    return piece
  }
}

/** Exactly `n` bytes of the body, in pieces */
async function * counted (reader: Reader, n: number): AsyncGenerator<Buffer> {
  while (n > 0) {
    const piece = await reader.some(n)
    if (piece == null) throw coded('aborted', 'ECONNRESET')
    n -= piece.length
    yield piece
  }
}

/** A chunked body: chunks of a hexadecimal size, ended by one of size 0 and the trailers */
async function * chunked (reader: Reader): AsyncGenerator<Buffer> {
  for (;;) {
    const sizeLine = (await reader.line(MAX_LINE)).split(';')[0].trim()
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeLine)) throw coded('the daemon sent a malformed answer (chunk size)', 'HPE_INVALID_CHUNK_SIZE')
    const size = parseInt(sizeLine, 16)
    if (size === 0) {
      while (await reader.line(MAX_LINE) !== '');
      return
    }
    yield * counted(reader, size)
    if (await reader.line(MAX_LINE) !== '') throw coded('the daemon sent a malformed answer (chunk end)', 'HPE_STRICT')
  }
}

/** The rest of the stream */
async function * untilEnd (reader: Reader): AsyncGenerator<Buffer> {
  for (let piece = await reader.some(Infinity); piece != null; piece = await reader.some(Infinity)) yield piece
}

/** Read the status line and headers, and hand back the body as the headers say it travels */
async function readReply (reader: Reader): Promise<WireReply> {
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(await reader.line(MAX_HEAD))
  if (status == null) throw coded('the daemon sent a malformed answer (status line)', 'HPE_INVALID_CONSTANT')
  const headers = new Map<string, string>()
  let size = 0
  for (let line = await reader.line(MAX_HEAD); line !== ''; line = await reader.line(MAX_HEAD)) {
    size += line.length
    if (size > MAX_HEAD) throw coded('the daemon sent a malformed answer (headers too long)', 'HPE_HEADER_OVERFLOW')
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  const encoding = headers.get('transfer-encoding')?.toLowerCase()
  const length = headers.get('content-length')
  let body: AsyncIterable<Buffer>
  if (encoding === 'chunked') body = chunked(reader)
  else if (encoding != null) throw coded(`the daemon sent an answer in an unknown transfer encoding (${encoding})`, 'HPE_INVALID_TRANSFER_ENCODING')
  else if (length != null) {
    if (!/^\d{1,15}$/.test(length)) throw coded('the daemon sent a malformed answer (content length)', 'HPE_INVALID_CONTENT_LENGTH')
    body = counted(reader, Number(length))
  } else body = untilEnd(reader)
  return { statusCode: Number(status[1]), body }
}

/** Make one request; resolves once the answer's headers are in */
export async function post (request: WireRequest): Promise<WireReply> {
  request.signal?.throwIfAborted()
  const socket = net.connect(splitAddress(request.address))
  const onAbort = (): void => { socket.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })) }
  request.signal?.addEventListener('abort', onAbort, { once: true })
  socket.once('close', () => { request.signal?.removeEventListener('abort', onAbort) })
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(request.onTimeout()) }, request.connectTimeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
  const head = [`POST ${request.path} HTTP/1.1`, `Host: ${request.address}`, 'Connection: close',
    ...Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${Buffer.byteLength(request.body)}`, '', '']
  // not ended: a server that sees the request end closes the answer (the daemon closes the
  // connection once it has answered, as the request asks)
  socket.write(head.join('\r\n') + request.body)
  try {
    const reply = await readReply(new Reader(socket))
    return { statusCode: reply.statusCode, body: closing(reply.body, socket) }
  } catch (err) {
    socket.destroy()
    throw err
  }
}

/** The body, the socket closed once it is read or its reader stops */
async function * closing (body: AsyncIterable<Buffer>, socket: net.Socket): AsyncGenerator<Buffer> {
  try {
    yield * body
  } finally {
    socket.destroy()
  }
}
