/**
 * Memory aligned for direct I/O (`O_DIRECT`): a block written straight to disk, past the page
 * cache, must come from a buffer whose address, length and file offset are multiples of the
 * device's logical block size. Node gives no aligned allocation and no addresses, but a
 * WebAssembly memory is mapped on page boundaries, so a view from its start is aligned. The
 * memory is shared, so the block I/O thread (io-thread.ts) hashes and writes it without a copy.
 */

/** The alignment asked of buffers, lengths and offsets: 4 KiB covers every common device */
export const DIRECT_ALIGNMENT = 4096

const WASM_PAGE = 65536

// the project's TypeScript libs leave out WebAssembly; Node has it
declare const WebAssembly: { Memory: new (descriptor: { initial: number, maximum: number, shared: true }) => { buffer: SharedArrayBuffer } }

/** ArrayBuffers made here: a view at an aligned offset into one is aligned */
const aligned = new WeakSet<ArrayBufferLike>()

/** A new buffer of at least `size` bytes, page aligned, with room to round `size` up to the alignment */
export function alignedBuffer (size: number): Uint8Array {
  const pages = Math.ceil((roundUp(size) || DIRECT_ALIGNMENT) / WASM_PAGE)
  const buffer = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer
  aligned.add(buffer)
  return new Uint8Array(buffer, 0, size)
}

/** `n` rounded up to a multiple of DIRECT_ALIGNMENT */
export function roundUp (n: number): number {
  return Math.ceil(n / DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT
}

/**
 * The aligned view of `buf` that a direct write of its bytes would use (its bytes, then
 * whatever follows them up to the next multiple of the alignment), or undefined when `buf` is
 * not aligned or its buffer has no room for the rounding
 */
export function directView (buf: Uint8Array): Uint8Array | undefined {
  if (!aligned.has(buf.buffer) || buf.byteOffset % DIRECT_ALIGNMENT !== 0) return undefined
  const length = roundUp(buf.byteLength)
  if (buf.byteOffset + length > buf.buffer.byteLength) return undefined
  return new Uint8Array(buf.buffer, buf.byteOffset, length)
}

/** Whether `buf` lies in memory from `alignedBuffer` */
export function isAligned (buf: Uint8Array): boolean {
  return aligned.has(buf.buffer)
}

const fill = Buffer.prototype.fill

/**
 * Copy `src` into `dst` at `offset` (it must fit). Into shared memory V8's `set` copies with
 * relaxed atomics, a byte at a time when source and target are not aligned alike, which is how
 * a stream's chunks land in a block buffer: ~5x slower than memcpy, and on a fetch more CPU than
 * decryption. `Buffer#fill` with a value exactly as long as the range copies it once, natively.
 */
export function copyInto (dst: Uint8Array, src: Uint8Array, offset: number): void {
  if (src.byteLength === 0) return
  if (offset < 0 || offset + src.byteLength > dst.byteLength) throw new RangeError(`${src.byteLength} bytes do not fit at ${offset} in ${dst.byteLength}`)
  if (dst.buffer instanceof SharedArrayBuffer) fill.call(dst, src, offset, offset + src.byteLength)
  else dst.set(src, offset)
}
