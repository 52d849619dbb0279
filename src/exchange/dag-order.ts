import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'

/** Order of two positions in a DAG (link indices from the root): depth-first, links in order */
export function compareOrder (a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return a.length - b.length
}

/** Bytes of content a root block stands for, when it says: a UnixFS file's size, a raw block's own */
export function contentSize (cid: CID, bytes: Uint8Array): number | undefined {
  if (cid.code !== dagPb.code) return bytes.byteLength
  try {
    const node = dagPb.decode(bytes)
    const fs = node.Data != null ? UnixFS.unmarshal(node.Data) : undefined
    return fs?.type === 'file' ? Number(fs.fileSize()) : undefined
  } catch {
    return undefined
  }
}
