/**
 * CAR (content-addressed archive, CARv1) export and import. Export streams a DAG's blocks in
 * depth-first order without duplicates (`order=dfs; dups=n`); import reads a CAR as a stream and
 * verifies every block against its CID before it is stored.
 */
import * as dagPb from '@ipld/dag-pb'
import { createWriter, headerLength } from '@ipld/car/buffer-writer'
import { CarBlockIterator } from '@ipld/car/iterator'
import { exporter } from 'ipfs-unixfs-exporter'
import { identity } from 'multiformats/hashes/identity'
import * as varint from 'uint8-varint'
import { InvalidCarError, PathNotFoundError } from '../errors.js'
import { linksOf, mhKey, verifies } from '../store/index.js'
import type { ContentPath } from './path.js'
import type { CID } from 'multiformats/cid'

/** Where export reads blocks from */
export interface CarBlocks {
  getBytes(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

/**
 * Which blocks of the DAG at the end of the path go into the CAR (IPFS trustless gateway
 * `dag-scope`): `all` the whole DAG, `entity` a file's whole DAG or a directory's own block,
 * `block` only the block at the end of the path. The blocks along the path always go in, so a
 * client can verify the path from the root.
 */
export type DagScope = 'all' | 'entity' | 'block'

export interface ExportCarOptions {
  scope?: DagScope
  signal?: AbortSignal
  /** Called once per block written, with its size */
  onBlock?(bytes: number): void
}

/** The CAR's header: CARv1 with the given roots */
export function carHeader (roots: CID[]): Uint8Array {
  return createWriter(new ArrayBuffer(headerLength({ roots })), { roots }).close()
}

/** One block section: varint(length of CID + data), CID, data */
export function carSection (cid: CID, bytes: Uint8Array): Uint8Array[] {
  return [varint.encode(cid.bytes.byteLength + bytes.byteLength), cid.bytes, bytes]
}

/**
 * A CAR of the DAG at `p`, rooted at `p.cid`: the blocks that resolve the path, then the DAG at
 * its end as `scope` says, depth-first, each block once.
 */
export async function * exportCar (blocks: CarBlocks, p: ContentPath, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
  const signal = options.signal
  const seen = new Set<string>()
  // resolve the path first (before the header), so a bad path is an error and not a broken CAR
  const pathBlocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  let target = p.cid
  if (p.segments.length > 0) {
    const recording = {
      async * get (cid: CID, opts?: { signal?: AbortSignal }): AsyncGenerator<Uint8Array> {
        const bytes = await blocks.getBytes(cid, opts)
        if (!seen.has(mhKey(cid))) {
          seen.add(mhKey(cid))
          pathBlocks.push({ cid, bytes })
        }
        yield bytes
      }
    }
    try {
      const entry = await exporter([p.cid.toString(), ...p.segments].join('/'), recording as any, { signal })
      target = entry.cid
    } catch (err: any) {
      // a path into a file meets links without names: no link named by it either
      if (err.name === 'NotFoundError' || err.name === 'NotUnixFSError') throw new PathNotFoundError(`no link named by ${[p.cid.toString(), ...p.segments].join('/')}`)
      throw err
    }
  }
  yield carHeader([p.cid])
  for (const { cid, bytes } of pathBlocks) {
    if (cid.equals(target)) continue
    options.onBlock?.(bytes.byteLength)
    yield * carSection(cid, bytes)
  }
  seen.clear()
  const scope = options.scope ?? 'all'
  // depth-first, children in link order: a stack of links still to visit
  const stack: CID[] = [target]
  let first = true
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const key = mhKey(cid)
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = cid.multihash.code === identity.code ? cid.multihash.digest : await blocks.getBytes(cid, { signal })
    options.onBlock?.(bytes.byteLength)
    yield * carSection(cid, bytes)
    if (scope === 'block') break
    if (first && scope === 'entity' && isDirectory(cid, bytes)) break
    first = false
    const links = linksOf(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i])
  }
}

function isDirectory (cid: CID, bytes: Uint8Array): boolean {
  if (cid.code !== dagPb.code) return false
  const data = dagPb.decode(bytes).Data
  // UnixFS Data field 1 (type): 1 = Directory, 5 = HAMTShard
  return data != null && data.length >= 2 && data[0] === 0x08 && (data[1] === 1 || data[1] === 5)
}

export interface ImportCarOptions {
  signal?: AbortSignal
  /** Called once per block stored */
  onBlock?(bytes: number): void
}

export interface CarImportStats {
  roots: CID[]
  blocks: number
  bytes: number
}

/** Where import stores blocks */
export interface CarSink {
  put(cid: CID, bytes: Uint8Array): Promise<unknown>
}

/**
 * Read a CAR as it streams in and store its blocks. Every block is hashed and compared with its
 * CID first; the first one that does not match stops the import with InvalidCarError (blocks
 * stored before it are valid, unpinned, and left for gc).
 */
export async function importCar (source: AsyncIterable<Uint8Array>, sink: CarSink, options: ImportCarOptions = {}): Promise<CarImportStats> {
  let reader: CarBlockIterator
  try {
    reader = await CarBlockIterator.fromIterable(source)
  } catch (err: any) {
    throw new InvalidCarError(`not a readable CAR file (${oneLine(err)})`)
  }
  const stats: CarImportStats = { roots: await reader.getRoots(), blocks: 0, bytes: 0 }
  const it = reader[Symbol.asyncIterator]()
  while (true) {
    options.signal?.throwIfAborted()
    let next: IteratorResult<{ cid: CID, bytes: Uint8Array }>
    try {
      next = await it.next()
    } catch (err: any) {
      throw new InvalidCarError(`the CAR is damaged after ${stats.blocks} block(s) (${oneLine(err)}); nothing after that was imported`)
    }
    if (next.done === true) break
    const { cid, bytes } = next.value
    if (cid.multihash.code !== identity.code) {
      if (!await verifies(cid, bytes)) {
        throw new InvalidCarError(`block ${stats.blocks + 1} of the CAR does not match its CID ${cid} (or uses a hash shoal cannot check): refusing it; ${stats.blocks} earlier block(s) were stored unpinned`)
      }
      await sink.put(cid, bytes)
    }
    stats.blocks++
    stats.bytes += bytes.byteLength
    options.onBlock?.(bytes.byteLength)
  }
  if (stats.roots.length === 0 && stats.blocks === 0) {
    throw new InvalidCarError('the CAR has no roots and no blocks')
  }
  return stats
}

function oneLine (err: any): string {
  return String(err?.message ?? err).split('\n')[0]
}
