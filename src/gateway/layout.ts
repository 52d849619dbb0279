import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidPathError } from '../errors.js'
import type { PBNode } from '@ipld/dag-pb'
import type { CID } from 'multiformats/cid'

/** A run of a file's bytes: a leaf block, or data an interior node holds itself */
export interface Leaf {
  /** Where it starts in the file */
  offset: number
  size: number
  /** The block holding the bytes (a raw block, or a dag-pb leaf with data) */
  cid?: CID
  /** The bytes themselves, when an interior node holds them */
  bytes?: Uint8Array
}

/** Where a file's bytes are: what a range request needs, without walking the DAG */
export interface FileLayout {
  cid: CID
  size: number
  /**
   * Its leaves in file order; absent for a file with more leaves than a layout keeps (ranges of
   * it walk the DAG by its interior nodes)
   */
  leaves?: Leaf[]
}

/** What a kept leaf costs in memory, roughly (the object, its CID and the views it holds) */
const LEAF_COST = 256
/** What a kept layout costs besides its leaves (its key, its entry, the root CID) */
const LAYOUT_COST = 1024
/** A layout takes at most this share of the cache, so one huge file cannot empty it */
const MAX_SHARE = 8

/**
 * Layouts of the files requests named, by content path (`/ipfs/<cid>/<path>`), least recently
 * used dropped first past `maxBytes`. Content never changes under a CID, so a layout stays right
 * for good: it is dropped only for room. A block it names that is removed from the store later
 * (gc, eviction) is fetched again when read, as on any miss.
 *
 * Resolutions of one path that run at once share one walk: the first request resolves, the others
 * wait for it (a file's first request under many clients otherwise walks its DAG once per client).
 */
export class FileLayouts {
  private readonly layouts = new Map<string, { layout: FileLayout, cost: number }>()
  private readonly pending = new Map<string, { resolution: Promise<FileLayout | undefined>, signal: AbortSignal }>()
  private bytes = 0
  /** Most leaves a layout keeps */
  readonly maxLeaves: number

  constructor (private readonly maxBytes: number) {
    this.maxLeaves = Math.max(1, Math.floor((maxBytes / MAX_SHARE - LAYOUT_COST) / LEAF_COST))
  }

  /** Layouts kept, and the memory they are reckoned to take */
  get stats (): { layouts: number, bytes: number } {
    return { layouts: this.layouts.size, bytes: this.bytes }
  }

  /** The kept layout of a path, marked as just used */
  get (path: string): FileLayout | undefined {
    const known = this.layouts.get(path)
    if (known == null) return undefined
    this.layouts.delete(path)
    this.layouts.set(path, known)
    return known.layout
  }

  /**
   * The layout of `path`: kept, or being resolved by another request (then waited for), or
   * resolved by `resolve` (undefined when the path is not a plain file: it is not kept). When the
   * request resolving it goes away or times out, a waiting request resolves it itself.
   */
  async resolve (path: string, signal: AbortSignal, resolve: () => Promise<FileLayout | undefined>): Promise<FileLayout | undefined> {
    while (true) {
      signal.throwIfAborted()
      const known = this.get(path)
      if (known != null) return known
      const running = this.pending.get(path)
      if (running == null) return this.run(path, signal, resolve)
      try {
        return await waitFor(running.resolution, signal)
      } catch (err: any) {
        signal.throwIfAborted()
        // its request's own end, not the path's: try again, as this request
        if (running.signal.aborted || err?.name === 'GatewayTimeoutError') continue
        throw err
      }
    }
  }

  private async run (path: string, signal: AbortSignal, resolve: () => Promise<FileLayout | undefined>): Promise<FileLayout | undefined> {
    const resolution = resolve()
    this.pending.set(path, { resolution, signal })
    try {
      const layout = await resolution
      if (layout != null) this.add(path, layout)
      return layout
    } finally {
      this.pending.delete(path)
    }
  }

  add (path: string, layout: FileLayout): void {
    const cost = LAYOUT_COST + path.length * 2 + (layout.leaves?.length ?? 0) * LEAF_COST
    if (cost > this.maxBytes / MAX_SHARE) return
    const old = this.layouts.get(path)
    if (old != null) {
      this.layouts.delete(path)
      this.bytes -= old.cost
    }
    this.layouts.set(path, { layout, cost })
    this.bytes += cost
    for (const [k, v] of this.layouts) {
      if (this.bytes <= this.maxBytes) break
      this.layouts.delete(k)
      this.bytes -= v.cost
    }
  }
}

/** `promise`, or the reason `signal` is aborted with, whichever comes first */
async function waitFor<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The leaves of the file at `cid` (`size` bytes; `node`, its root decoded, when the caller has
 * it), reading its interior nodes through `getBytes`; undefined when it has more than `maxLeaves`.
 * Offsets come from the interior nodes' `blockSizes`, as the exporter takes them.
 */
export async function leavesOf (getBytes: (cid: CID) => Promise<Uint8Array>, cid: CID, size: number, maxLeaves: number, node?: PBNode): Promise<Leaf[] | undefined> {
  const leaves: Leaf[] = []
  const walk = async (cid: CID, offset: number, size: number, node?: PBNode): Promise<boolean> => {
    if (cid.code === raw.code) {
      if (size > 0) leaves.push({ cid, offset, size })
      return leaves.length <= maxLeaves
    }
    if (cid.code !== dagPb.code) throw new InvalidPathError(`${cid} is not a UnixFS file`)
    const pb = node ?? dagPb.decode(await getBytes(cid))
    if (pb.Data == null) throw new InvalidPathError(`${cid} is not a UnixFS file`)
    if (pb.Links.length === 0) {
      // a dag-pb leaf: its bytes are read by decoding it
      if (size > 0) leaves.push({ cid, offset, size })
      return leaves.length <= maxLeaves
    }
    const fs = UnixFS.unmarshal(pb.Data)
    if (fs.blockSizes.length !== pb.Links.length) {
      throw new InvalidPathError(`${cid} has ${pb.Links.length} links but ${fs.blockSizes.length} block sizes`)
    }
    let pos = offset
    // a node's own data comes before its children's
    if (fs.data != null && fs.data.byteLength > 0) {
      leaves.push({ offset: pos, size: fs.data.byteLength, bytes: fs.data })
      pos += fs.data.byteLength
    }
    for (let i = 0; i < pb.Links.length; i++) {
      const n = Number(fs.blockSizes[i])
      if (!await walk(pb.Links[i].Hash, pos, n)) return false
      pos += n
    }
    return true
  }
  return await walk(cid, 0, size, node) ? leaves : undefined
}

/** Index of the leaf holding byte `offset` (the last one starting at or before it) */
export function leafAt (leaves: Leaf[], offset: number): number {
  let lo = 0
  let hi = leaves.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (leaves[mid].offset <= offset) lo = mid
    else hi = mid - 1
  }
  return lo
}
