const KiB = 1024

/**
 * Bytes of a leaf read at once: a range is read and sent in pieces of at most this, each into a
 * buffer of the pool, so a response holds at most one piece in memory however long its range
 */
export const READ_PIECE = 256 * KiB
/** Buffers the pool keeps for reuse (8 MiB); more are made while many responses run at once */
const KEPT_BUFFERS = 32

/**
 * Buffers the gateway reads file bytes into, given back once the socket has taken their bytes.
 * A fresh large buffer costs far more than the read into it (the kernel hands out and zeroes new
 * pages for it, and takes them back when it is freed: ~4x the CPU of reading 1 MiB ranges into a
 * buffer used before, measured on this project's machines), so buffers are reused.
 */
export class ReadBuffers {
  private readonly free: Buffer[] = []
  /** The pool's buffers by their memory, so a view of one finds its way back */
  private readonly mine = new WeakMap<ArrayBufferLike, Buffer>()

  constructor (readonly size: number = READ_PIECE, private readonly kept: number = KEPT_BUFFERS) {}

  /** A buffer of `size` bytes, no longer in use anywhere */
  take (): Buffer {
    const reused = this.free.pop()
    if (reused != null) return reused
    // a buffer of its own memory (not a slice of Node's shared pool), so it can be told apart
    const buf = Buffer.allocUnsafeSlow(this.size)
    this.mine.set(buf.buffer, buf)
    return buf
  }

  /**
   * Give back the buffer `view` is part of, once nothing reads it any more (the socket wrote it);
   * views of other memory are ignored. Past the kept number, buffers are left to the collector.
   */
  give (view: Uint8Array): void {
    const buf = this.mine.get(view.buffer)
    if (buf == null || this.free.length >= this.kept || this.free.includes(buf)) return
    this.free.push(buf)
  }

  /** Buffers waiting to be reused */
  get idle (): number {
    return this.free.length
  }
}
