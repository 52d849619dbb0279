import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidPathError } from '../errors.js'
import { READ_PIECE } from './buffers.js'
import { leafAt } from './layout.js'
import type { Leaf } from './layout.js'
import type { PullThrough } from '../content/pull-through.js'
import type { CID } from 'multiformats/cid'

/**
 * Bytes `offset` to `offset + length` of a UnixFS file, reading only the blocks that hold them,
 * and of each raw leaf only the bytes wanted (a 100-byte range of a file of 1 MiB leaves reads
 * the root and 100 bytes, not a megabyte). Interior nodes are walked by their `blockSizes`.
 */
export async function * readRange (blocks: PullThrough, cid: CID, offset: number, length: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (length <= 0) return
  signal?.throwIfAborted()
  if (cid.code === raw.code) {
    yield * readRaw(blocks, cid, offset, length, signal)
    return
  }
  if (cid.code !== dagPb.code) throw new InvalidPathError(`${cid} is not a UnixFS file`)
  const node = await fileNode(blocks, cid, signal)
  let pos = 0
  const end = offset + length
  // a node's own data comes before its children's
  if (node.own.byteLength > 0) {
    if (offset < node.own.byteLength) yield node.own.subarray(offset, Math.min(node.own.byteLength, end))
    pos = node.own.byteLength
  }
  for (let i = 0; i < node.links.length && pos < end; i++) {
    const size = node.sizes[i]
    if (pos + size > offset) {
      const from = Math.max(0, offset - pos)
      yield * readRange(blocks, node.links[i], from, Math.min(size, end - pos) - from, signal)
    }
    pos += size
  }
}

interface Piece {
  bytes: Uint8Array
  /** The pool's buffer the bytes were read into */
  into?: Uint8Array
}

/**
 * A raw leaf's bytes in pieces, each into a buffer of the pool, written in slices; the response
 * gives the buffer back once the last slice is sent. The next piece is read while the socket takes
 * the slices of this one, as a file stream reads ahead while it drains.
 */
async function * readRaw (blocks: PullThrough, cid: CID, offset: number, length: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const buffers = blocks.buffers
  const piece = buffers?.size ?? READ_PIECE
  const end = offset + length
  const read = async (at: number): Promise<Piece> => {
    const into = buffers?.take()
    try {
      return { bytes: await blocks.readRange(cid, at, Math.min(piece, end - at), { signal, into }), into }
    } catch (err) {
      if (into != null) buffers?.give(into)
      throw err
    }
  }
  let next: Promise<Piece> | undefined = read(offset)
  try {
    for (let at = offset; next != null;) {
      const { bytes, into } = await next
      next = undefined
      const n = Math.min(piece, end - at)
      at += n
      // a short read is the block's end
      if (bytes.byteLength === n && at < end) {
        next = read(at)
        // settled whether or not this generator is still read
        next.catch(() => {})
      }
      if (bytes.byteLength === 0) {
        if (into != null) buffers?.give(into)
      } else if (buffers != null) {
        yield * buffers.slices(bytes)
      } else {
        yield bytes
      }
    }
  } finally {
    // the response ended early: the piece read ahead goes back to the pool once read
    if (next != null) next.then(({ into }) => { if (into != null) buffers?.give(into) }, () => {})
  }
}

interface FileNode {
  own: Uint8Array
  links: CID[]
  sizes: number[]
}

/** Decoded interior nodes of files (a root of 1024 links costs about a millisecond to decode, and up to ~200 KB to keep) */
const decoded = new Map<string, FileNode>()
const DECODED_NODES = 64

async function fileNode (blocks: PullThrough, cid: CID, signal?: AbortSignal): Promise<FileNode> {
  const key = cid.toString()
  const known = decoded.get(key)
  if (known != null) return known
  const pb = dagPb.decode(await blocks.getBytes(cid, { signal }))
  if (pb.Data == null) throw new InvalidPathError(`${cid} is not a UnixFS file`)
  const fs = UnixFS.unmarshal(pb.Data)
  if (fs.blockSizes.length !== pb.Links.length) {
    throw new InvalidPathError(`${cid} has ${pb.Links.length} links but ${fs.blockSizes.length} block sizes`)
  }
  const node = { own: fs.data ?? new Uint8Array(0), links: pb.Links.map(l => l.Hash), sizes: fs.blockSizes.map(Number) }
  if (decoded.size >= DECODED_NODES) decoded.delete(decoded.keys().next().value as string)
  decoded.set(key, node)
  return node
}

/**
 * Bytes `offset` to `offset + length` of a file by its layout: the leaves that hold them, found by
 * a binary search, and of each only the bytes wanted (a range across leaf boundaries reads the end
 * of one and the start of the next)
 */
export async function * readLeaves (blocks: PullThrough, leaves: Leaf[], offset: number, length: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (length <= 0 || leaves.length === 0) return
  const end = offset + length
  for (let i = leafAt(leaves, offset); i < leaves.length && leaves[i].offset < end; i++) {
    signal?.throwIfAborted()
    const leaf = leaves[i]
    const from = Math.max(0, offset - leaf.offset)
    const to = Math.min(leaf.size, end - leaf.offset)
    if (to <= from) continue
    if (leaf.bytes != null) yield leaf.bytes.subarray(from, to)
    else if (leaf.cid != null) yield * readRange(blocks, leaf.cid, from, to - from, signal)
  }
}
