import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'

/** Whether the bytes hash to the CID's multihash */
export async function verifies (cid: CID, data: Uint8Array): Promise<boolean> {
  if (cid.multihash.code !== sha256.code) return false
  const digest = await sha256.digest(data)
  return Buffer.compare(digest.digest, cid.multihash.digest) === 0
}
