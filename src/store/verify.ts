import { createHash } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'

/**
 * Whether the bytes (one buffer, or the chunks a block arrived in, in order) hash to the CID's
 * multihash. Hashed in place on the calling thread: WebCrypto's digest copies its input and, as
 * measured here (Node 24, 1 MiB blocks), spends as long on the calling thread as hashing the
 * block there does, so it saved no event-loop time and cost a copy per block.
 */
export function verifies (cid: CID, data: Uint8Array | readonly Uint8Array[]): boolean {
  if (cid.multihash.code !== sha256.code) return false
  const hash = createHash('sha256')
  if (data instanceof Uint8Array) {
    hash.update(data)
  } else {
    for (const chunk of data) hash.update(chunk)
  }
  return hash.digest().equals(cid.multihash.digest)
}
