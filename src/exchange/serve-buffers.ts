import { BLOCK_BUFFER_SIZE, SERVE_BUFFERS_KEPT } from '../constants.js'
import { whenEncrypted } from '../host/noise-crypto.js'

/**
 * Reusable buffers the server reads blocks into, over noise connections.
 *
 * Why: a block read into memory of its own (1 MiB per block) lives until noise has encrypted
 * it, often past two scavenges of the daemon's small young generation; promoted, it counts as
 * external memory until a mark-compact, and serving at full speed ran one every ~100 MiB sent,
 * about a third of the serving daemon's CPU beyond the raw stream's (docs/performance.md).
 * A buffer here goes back to the pool once noise has encrypted every byte of its block
 * (`whenEncrypted`), when nothing reads it any more, however long the bytes waited in the
 * muxer's or noise's send queue.
 *
 * A block that never goes out whole (stream reset, connection closed) leaves its buffer out of
 * the pool; it is freed with its last reference, and the pool may make another in its place.
 * Shared memory, so the block I/O thread reads into it (store/io-thread.ts).
 */
const free: Uint8Array[] = []
/** Buffers made and not yet collected: in the pool, or out with a block */
let live = 0
const collected = new FinalizationRegistry<undefined>(() => { live-- })

/** A buffer of BLOCK_BUFFER_SIZE bytes for one block, or undefined when SERVE_BUFFERS_KEPT are out */
export function takeServeBuffer (): Uint8Array | undefined {
  const buf = free.pop()
  if (buf != null || live >= SERVE_BUFFERS_KEPT) return buf
  live++
  const made = new Uint8Array(new SharedArrayBuffer(BLOCK_BUFFER_SIZE))
  collected.register(made.buffer, undefined)
  return made
}

/** Buffers made and not yet collected, and how many of them are in the pool now */
export function serveBufferCounts (): { live: number, free: number } {
  return { live, free: free.length }
}

/** Give back a buffer that no block was sent from: it may be used at once */
export function returnServeBuffer (buf: Uint8Array): void {
  free.push(buf)
}

/**
 * `block` (a view from the start of `buf`) is being sent: `buf` goes back to the pool once
 * noise has encrypted all of it. Where that will not be known (the block is empty), it is left
 * to the garbage collector.
 */
export function returnWhenEncrypted (buf: Uint8Array, block: Uint8Array): void {
  whenEncrypted(block, () => { free.push(buf) })
}
