import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import type { CID } from 'multiformats/cid'

/** The CIDs a block links to, by codec; a codec shoal cannot read has no links it can follow */
export function linksOf (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === dagPb.code) {
    return dagPb.decode(bytes).Links.map(l => l.Hash)
  }
  return []
}

/** Whether shoal can walk into blocks of this CID's codec */
export function isKnownCodec (cid: CID): boolean {
  return cid.code === dagPb.code || cid.code === raw.code
}

export interface WalkResult {
  /** Every CID reached, the root first */
  cids: CID[]
  /** CIDs that were linked but are not in the store */
  missing: CID[]
  /** Bytes of all blocks reached */
  bytes: number
}

/**
 * Breadth-first walk of a DAG in the store. Blocks that are not stored are reported, not thrown,
 * so gc can keep what it can see and `pin add` can say what is missing.
 */
export interface DagSource {
  /** The block's bytes, or undefined when it is not stored */
  getBytes(cid: CID): Promise<Uint8Array | undefined>
  /** The block's size, or undefined when it is not stored; used for leaves, which need no reading */
  sizeOf(cid: CID): Promise<number | undefined>
}

export async function walkDag (root: CID, source: DagSource, options?: { signal?: AbortSignal }): Promise<WalkResult> {
  const seen = new Set<string>()
  const result: WalkResult = { cids: [], missing: [], bytes: 0 }
  let frontier: CID[] = [root]
  while (frontier.length > 0) {
    const level: CID[] = []
    for (const cid of frontier) {
      const key = mhKey(cid)
      if (seen.has(key)) continue
      seen.add(key)
      level.push(cid)
    }
    // a level's blocks are looked at several at once, and reported in order: one stat after
    // another over a site's pages took seconds on a busy machine, for every pin of a new version
    const looked: Array<{ size?: number, links: CID[] }> = new Array(level.length)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < level.length) {
        const i = next++
        options?.signal?.throwIfAborted()
        looked[i] = await look(level[i], source)
      }
    }
    await Promise.all(Array.from({ length: Math.min(WALK_CONCURRENCY, level.length) }, worker))
    const links: CID[] = []
    for (const [i, cid] of level.entries()) {
      result.cids.push(cid)
      const { size, links: more } = looked[i]
      if (size == null) result.missing.push(cid)
      else result.bytes += size
      links.push(...more)
    }
    frontier = links
  }
  return result
}

/** Blocks of one level of a walk looked at at once */
const WALK_CONCURRENCY = 16

/** A block's size (undefined when it is not stored) and links */
async function look (cid: CID, source: DagSource): Promise<{ size?: number, links: CID[] }> {
  // identity blocks are inside their CID; they count no bytes, as before
  if (cid.multihash.code === identity.code) return { size: 0, links: [] }
  if (cid.code === raw.code) {
    // raw leaves have no links: their presence is all that matters
    return { size: await source.sizeOf(cid), links: [] }
  }
  const bytes = await source.getBytes(cid)
  if (bytes == null) return { links: [] }
  return { size: bytes.byteLength, links: linksOf(cid, bytes) }
}

/** A string key for a CID's multihash: blocks are the same whatever the codec or CID version */
export function mhKey (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}
