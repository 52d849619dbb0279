import { createHash, webcrypto } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import { ioThread, isShared } from './io-thread.js'
import type { CID } from 'multiformats/cid'

/**
 * Whether the bytes (one buffer, or a block's chunks in order) hash to the CID's multihash.
 *
 * Hashing 1 MiB takes the calling thread ~0.9 ms (Node 24, SHA extensions), so one buffer is
 * hashed elsewhere: a block in shared memory (a received block, see aligned.ts) by the block I/O
 * thread, with no copy; any other buffer by WebCrypto on the thread pool, which copies it first
 * (~0.25-0.7 ms per MiB of the caller's time, less than hashing it). Chunks are hashed in place
 * on the calling thread, with no copy to join them.
 */
export async function verifies (cid: CID, data: Uint8Array | readonly Uint8Array[]): Promise<boolean> {
  if (cid.multihash.code !== sha256.code) return false
  const one = data instanceof Uint8Array ? data : data.length === 1 ? data[0] : undefined
  let digest: Uint8Array
  if (one != null && isShared(one)) {
    // WebCrypto refuses shared memory: without the thread, it is hashed here
    const thread = ioThread()
    digest = thread != null ? await thread.sha256(one).catch(() => undefined) ?? hashHere(one) : hashHere(one)
  } else if (one != null) {
    digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', one))
  } else {
    const hash = createHash('sha256')
    for (const chunk of data as readonly Uint8Array[]) hash.update(chunk)
    digest = hash.digest()
  }
  return Buffer.compare(digest, cid.multihash.digest) === 0
}

/**
 * The SHA-256 digest of one buffer, hashed elsewhere as `verifies` does: a buffer in shared
 * memory by the block I/O thread, any other by WebCrypto on the thread pool
 */
export async function sha256Of (data: Uint8Array): Promise<Uint8Array> {
  if (!isShared(data)) return new Uint8Array(await webcrypto.subtle.digest('SHA-256', data))
  const thread = ioThread()
  return thread != null ? await thread.sha256(data).catch(() => undefined) ?? hashHere(data) : hashHere(data)
}

function hashHere (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}
