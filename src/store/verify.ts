import { webcrypto } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'

/**
 * Whether the bytes hash to the CID's multihash. WebCrypto's digest runs on the thread pool, so
 * hashing a block does not hold up the event loop that is receiving the next ones.
 */
export async function verifies (cid: CID, data: Uint8Array): Promise<boolean> {
  if (cid.multihash.code !== sha256.code) return false
  const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', data))
  return Buffer.compare(digest, cid.multihash.digest) === 0
}
