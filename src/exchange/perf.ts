import { createHash } from 'node:crypto'
import { EXCHANGE_PERF_PROTOCOL, GiB, KiB, MiB } from '../constants.js'
import type { TransferCollector } from './collect.js'
import type { Hash } from 'node:crypto'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Largest download one perf request may ask for */
export const MAX_PERF_BYTES = 16 * GiB
const WRITE_SIZE = 256 * KiB
/** With `hash`, the client hashes what arrives in pieces of this size: a block of the default profile */
export const PERF_HASH_PIECE = MiB

export interface PerfOptions {
  signal?: AbortSignal
  /**
   * Hash what arrives with SHA-256 in pieces of PERF_HASH_PIECE bytes, on the event loop, as it
   * arrives: the least a fetch must do to verify blocks, so the throughput with it is the most
   * a verifying fetch can reach on this pair of machines
   */
  hash?: boolean
}

export interface PerfRun {
  bytes: number
  seconds: number
  /** With `hash`: how many pieces were hashed and the SHA-256 of the last one, hex */
  hashed?: { pieces: number, lastDigest: string }
}

/** SHA-256 over consecutive pieces of a byte stream, fed in chunks of any size */
class PieceHasher {
  pieces = 0
  lastDigest = ''
  private hash: Hash = createHash('sha256')
  private filled = 0

  update (chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, PERF_HASH_PIECE - this.filled)
      this.hash.update(chunk.subarray(offset, offset + n))
      offset += n
      this.filled += n
      if (this.filled === PERF_HASH_PIECE) this.finishPiece()
    }
  }

  end (): void {
    if (this.filled > 0) this.finishPiece()
  }

  private finishPiece (): void {
    this.lastDigest = this.hash.digest('hex')
    this.pieces++
    this.hash = createHash('sha256')
    this.filled = 0
  }
}

/**
 * `/shoal/perf/1.0.0`: a raw-throughput probe over the same transport, encryption and muxer the
 * exchange uses, for benchmarks and diagnosis. The client writes the number of bytes it wants as
 * an 8-byte big-endian integer and closes its write end; the server writes that many zero bytes
 * and closes. Off unless `exchange.perf` is true in config, since it lets any peer ask for data.
 */
export async function handlePerf (host: Pick<Libp2p, 'handle'>, collector?: TransferCollector): Promise<void> {
  await host.handle(EXCHANGE_PERF_PROTOCOL, (stream) => {
    void servePerf(stream, collector)
  }, { maxInboundStreams: 1, maxOutboundStreams: 1 })
}

async function servePerf (stream: Stream, collector?: TransferCollector): Promise<void> {
  try {
    const head: Uint8Array[] = []
    let got = 0
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      head.push(bytes)
      got += bytes.byteLength
      if (got >= 8) break
    }
    if (got < 8) throw new Error('perf request too short')
    const wanted = Buffer.concat(head).readBigUInt64BE(0)
    if (wanted > BigInt(MAX_PERF_BYTES)) throw new Error('perf request too large')
    let left = Number(wanted)
    const block = new Uint8Array(WRITE_SIZE)
    while (left > 0) {
      const n = Math.min(left, WRITE_SIZE)
      if (!stream.send(n === WRITE_SIZE ? block : block.subarray(0, n))) {
        await new Promise<void>((resolve, reject) => {
          stream.addEventListener('drain', () => { resolve() }, { once: true })
          stream.addEventListener('close', () => { reject(new Error('closed')) }, { once: true })
        })
      }
      left -= n
    }
    await stream.close()
    collector?.ended(Number(wanted))
  } catch (err: any) {
    stream.abort(err)
  }
}

/** Download `bytes` from a peer over the perf protocol; resolves with the time it took */
export async function runPerf (host: Pick<Libp2p, 'dialProtocol'>, target: Multiaddr, bytes: number, options: PerfOptions = {}): Promise<PerfRun> {
  const { signal } = options
  const hasher = options.hash === true ? new PieceHasher() : undefined
  const stream = await host.dialProtocol(target, EXCHANGE_PERF_PROTOCOL, { signal })
  const started = performance.now()
  // counted as each message arrives, as the exchange reads its responses: an async iterator
  // queues messages without bound when it lags (the muxer's window opens as bytes are received,
  // not as they are read), and the queue costs memory and time a raw baseline should not pay
  const received = new Promise<number>((resolve, reject) => {
    let n = 0
    const onAbort = (): void => { stream.abort(signal?.reason ?? new Error('aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    stream.addEventListener('message', (evt) => {
      n += evt.data.byteLength
      if (hasher == null) return
      if (evt.data instanceof Uint8Array) hasher.update(evt.data)
      else for (const chunk of evt.data) hasher.update(chunk)
    })
    stream.addEventListener('remoteCloseWrite', () => { resolve(n) }, { once: true })
    stream.addEventListener('close', (evt) => {
      signal?.removeEventListener('abort', onAbort)
      if (evt.error != null) reject(evt.error)
      else resolve(n)
    }, { once: true })
  })
  received.catch(() => {})
  const head = Buffer.alloc(8)
  head.writeBigUInt64BE(BigInt(bytes))
  stream.send(head)
  await stream.close({ signal })
  const got = await received
  if (got !== bytes) throw new Error(`perf: expected ${bytes} bytes, got ${got}`)
  hasher?.end()
  const seconds = (performance.now() - started) / 1000
  return hasher == null ? { bytes: got, seconds } : { bytes: got, seconds, hashed: { pieces: hasher.pieces, lastDigest: hasher.lastDigest } }
}
