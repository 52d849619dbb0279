const KiB = 1024

/**
 * Bytes of a leaf read and written at once: a response holds one piece at a time, and hands the
 * socket no more than this before it drains. Larger pieces send faster than a slow client reads:
 * its receive window closes and the transfer waits on TCP's window probes, seconds for some
 * (docs/gateway.md, "How a file is read")
 */
export const READ_PIECE = 64 * KiB
/** Buffers the pool keeps for reuse (16 MiB): one per response for a few hundred at once */
const KEPT_BUFFERS = 256

/**
 * Buffers the gateway reads file bytes into, given back once the socket has taken their bytes.
 * A fresh large buffer costs more CPU than the read into it (the kernel hands out and zeroes new
 * pages for it, and takes them back when it is freed), so buffers are reused.
 */
export class ReadBuffers {
  private readonly free = new Set<Buffer>()
  /** The pool's buffers by their memory, so a view of one finds its way back */
  private readonly mine = new WeakMap<ArrayBufferLike, Buffer>()

  constructor (readonly size: number = READ_PIECE, private readonly kept: number = KEPT_BUFFERS) {}

  /** A buffer of `size` bytes, no longer in use anywhere */
  take (): Buffer {
    for (const reused of this.free) {
      this.free.delete(reused)
      return reused
    }
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
    if (buf == null || this.free.size >= this.kept || this.free.has(buf)) return
    this.free.add(buf)
  }

  /** Buffers waiting to be reused */
  get idle (): number {
    return this.free.size
  }
}
