import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { InvalidPathError } from '../errors.js'
import type { RequestBlocks } from './blocks.js'
import type { CID } from 'multiformats/cid'

const RAW_CODE = 0x55

/**
 * Bytes `offset` to `offset + length` of a UnixFS file, reading only the blocks that hold them,
 * and of each raw leaf only the bytes wanted (a 100-byte range of a file of 1 MiB leaves reads
 * the root and 100 bytes, not a megabyte). Interior nodes are walked by their `blockSizes`.
 */
export async function * readRange (blocks: RequestBlocks, cid: CID, offset: number, length: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (length <= 0) return
  signal?.throwIfAborted()
  if (cid.code === RAW_CODE) {
    yield await blocks.readRange(cid, offset, length)
    return
  }
  if (cid.code !== dagPb.code) throw new InvalidPathError(`${cid} is not a UnixFS file`)
  const node = dagPb.decode(await blocks.getBytes(cid, { signal }))
  if (node.Data == null) throw new InvalidPathError(`${cid} is not a UnixFS file`)
  const fs = UnixFS.unmarshal(node.Data)
  let pos = 0
  const end = offset + length
  // a node's own data comes before its children's
  const own = fs.data ?? new Uint8Array(0)
  if (own.byteLength > 0) {
    if (offset < own.byteLength) yield own.subarray(offset, Math.min(own.byteLength, end))
    pos = own.byteLength
  }
  const sizes = fs.blockSizes
  if (sizes.length !== node.Links.length && node.Links.length > 0) {
    throw new InvalidPathError(`${cid} has ${node.Links.length} links but ${sizes.length} block sizes`)
  }
  for (let i = 0; i < node.Links.length && pos < end; i++) {
    const size = Number(sizes[i])
    if (pos + size > offset) {
      const from = Math.max(0, offset - pos)
      yield * readRange(blocks, node.Links[i].Hash, from, Math.min(size, end - pos) - from, signal)
    }
    pos += size
  }
}
