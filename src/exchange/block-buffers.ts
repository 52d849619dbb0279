import { BLOCK_BUFFERS_KEPT, BLOCK_BUFFER_SIZE } from '../constants.js'
import { alignedBuffer, isAligned } from '../store/aligned.js'

/**
 * Reusable buffers that received blocks are copied into as their bytes arrive.
 *
 * Why: a block waits in memory until it is verified and synced to disk, long enough for V8 to
 * move the buffers holding it to the old generation; every block then adds to the external
 * memory that only a full mark-compact frees, and at fetch speed V8 ran one every few MiB. With
 * the block copied out of the stream's chunks on arrival, those chunks die young and the long
 * wait is spent in buffers that are used again.
 *
 * The pool's buffers are aligned for direct I/O and shared with the block I/O thread, which hashes
 * a block and writes it straight to disk, past the page cache, without a copy (src/store/
 * aligned.ts, io-thread.ts). They are made once and kept: the thread holds a handle on every
 * shared buffer it was given, and one made per block would stay allocated until the thread's own
 * garbage collection, which seldom runs (docs/performance.md).
 */
const free: Uint8Array[] = []
/** Buffers made for the pool: they live as long as the process and are never freed */
let made = 0

/** A buffer of `size` bytes: a pooled one when the block fits and one is free, else a new one */
export function takeBlockBuffer (size: number): Uint8Array {
  if (size <= BLOCK_BUFFER_SIZE) {
    let buf = free.pop()
    if (buf == null && made < BLOCK_BUFFERS_KEPT) {
      made++
      buf = alignedBuffer(BLOCK_BUFFER_SIZE)
    }
    if (buf != null) return buf.subarray(0, size)
  }
  return Buffer.allocUnsafeSlow(size)
}

/** Give a buffer from `takeBlockBuffer` back, once; nothing may use it afterwards */
export function returnBlockBuffer (buf: Uint8Array): void {
  if (!isAligned(buf) || buf.byteOffset !== 0 || buf.buffer.byteLength !== BLOCK_BUFFER_SIZE) return
  free.push(new Uint8Array(buf.buffer, 0, BLOCK_BUFFER_SIZE))
}
