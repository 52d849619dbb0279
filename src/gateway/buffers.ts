const KiB = 1024

/** Bytes of a leaf read at once: a response holds one piece at a time */
export const READ_PIECE = 256 * KiB
/**
 * Bytes handed to the socket at once, before it drains. Larger writes send faster than a slow
 * client reads: its receive window closes and the transfer waits on TCP's window probes, seconds
 * for some (docs/gateway.md, "How a file is read")
 */
export const WRITE_SLICE = 64 * KiB
/** Buffers the pool keeps for reuse (16 MiB) */
const KEPT_BUFFERS = 64

/**
 * Buffers the gateway reads file bytes into, given back once the socket has taken their bytes.
 * A fresh large buffer costs more CPU than the read into it (the kernel hands out and zeroes new
 * pages for it, and takes them back when it is freed), so buffers are reused.
 */
export class ReadBuffers {
  private readonly free = new Set<Buffer>()
  /** The pool's buffers by their memory, so a view of one finds its way back */
  private readonly mine = new WeakMap<ArrayBufferLike, Buffer>()
  /** Views whose write frees their buffer: the last slice of each piece */
  private readonly last = new WeakSet<Uint8Array>()

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
   * Slices of `piece` (a view of a buffer of the pool) to write one after another; the buffer goes
   * back to the pool when the last one is given back
   */
  slices (piece: Uint8Array, size: number = WRITE_SLICE): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let at = 0; at < piece.byteLength; at += size) out.push(piece.subarray(at, Math.min(piece.byteLength, at + size)))
    if (out.length > 0) this.last.add(out[out.length - 1])
    return out
  }

  /**
   * Give back the buffer `view` is part of, once nothing reads it any more (the socket wrote it):
   * the buffer itself, or the last slice of a piece (writes end in order, so the others were
   * written); other views, and views of other memory, are ignored. Past the kept number, buffers are left
   * to the collector.
   */
  give (view: Uint8Array): void {
    const buf = this.mine.get(view.buffer)
    if (buf == null || (view !== buf && !this.last.has(view))) return
    if (this.free.size >= this.kept || this.free.has(buf)) return
    this.free.add(buf)
  }

  /** Buffers waiting to be reused */
  get idle (): number {
    return this.free.size
  }
}
