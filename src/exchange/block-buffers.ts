import { BLOCK_BUFFERS_KEPT, BLOCK_BUFFER_SIZE } from '../constants.js'

/**
 * Reusable buffers that received blocks are copied into as their bytes arrive.
 *
 * Why: a block waits in memory until it is verified and synced to disk, long enough for V8 to
 * move the buffers holding it to the old generation; every block then adds to the external
 * memory that only a full mark-compact frees, and at fetch speed V8 ran one every few MiB. With
 * the block copied out of the stream's chunks on arrival, those chunks die young and the long
 * wait is spent in buffers that are used again.
 */
const free: Uint8Array[] = []

/** A buffer of `size` bytes: a reused one when the block fits, else a new one */
export function takeBlockBuffer (size: number): Uint8Array {
  if (size > BLOCK_BUFFER_SIZE) return Buffer.allocUnsafeSlow(size)
  return (free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BUFFER_SIZE)).subarray(0, size)
}

/** Give a buffer from `takeBlockBuffer` back; nothing may use it afterwards */
export function returnBlockBuffer (buf: Uint8Array): void {
  if (buf.buffer.byteLength !== BLOCK_BUFFER_SIZE || buf.byteOffset !== 0 || free.length >= BLOCK_BUFFERS_KEPT) return
  free.push(new Uint8Array(buf.buffer, 0, BLOCK_BUFFER_SIZE))
}
