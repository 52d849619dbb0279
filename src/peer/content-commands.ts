/**
 * The content commands of `ShoalApi` that work on the store: what goes into it (publish, importCar),
 * what is read out of it (cat, get, ls, exportCar), and its pins, gc and verify. Reads go through
 * `readable`: the store alone while the peer is offline, and, online, a read-through that fetches
 * missing blocks from peers. An online peer publishes and fetches with online-content.ts.
 */
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { parseContentPath } from '../content/path.js'
import { BlockNotFoundError, IncompleteCarError, InvalidArgumentError, InvalidCIDError } from '../errors.js'
import type { Config } from './config.js'
import type { Blockstore } from 'interface-blockstore'
import type { ContentPath } from '../content/index.js'
import type {
  AbortOptions, CatOptions, ExportEntry, GcResult, ImportEntry, LsEntry, PinInfo, PublishOptions,
  PublishResult, VerifyResult, ExportCarOptions, ImportCarOptions, ImportCarResult
} from '../interface/types.js'
import type { Pin, Store, UnreadablePin } from '../store/index.js'

/** Blocks a reader takes one at a time, and `close` once it is done, early or not */
export interface ReadableDag {
  blocks: Pick<Blockstore, 'get'>
  close(): void
}

export interface ContentComponents {
  store: Pick<Store, 'blocks' | 'pins' | 'pin' | 'unpin' | 'gc' | 'verify' | 'withWriteGuard'>
  config: Pick<Config, 'publish'>
  /** The blocks of a DAG to read, and `close` once the reader is done */
  readable(root: CID, options: AbortOptions): ReadableDag
}

/** Blocks to read a DAG from while the peer is offline: the store alone */
export function storeOnly (store: Pick<Store, 'blocks'>): ContentComponents['readable'] {
  return () => ({ blocks: store.blocks, close: () => {} })
}

export class ContentCommands {
  private readonly components: ContentComponents

  constructor (components: ContentComponents) {
    this.components = components
  }

  /** Publish into the store alone: announcing, and so asking for replicas, needs the daemon */
  async publish (entries: AsyncIterable<ImportEntry>, options: PublishOptions = {}): Promise<PublishResult> {
    if ((options.replicas ?? 0) > 0) {
      throw new InvalidArgumentError('replicas are asked for by announcing: start the daemon, and do not pass --no-announce')
    }
    return importAndPin(this.components, entries, options)
  }

  cat (path: string, options: CatOptions = {}): AsyncGenerator<Uint8Array> {
    return this.read(path, options, async (blocks, p) => (await exporter()).cat(blocks, p, options))
  }

  get (path: string, options: AbortOptions = {}): AsyncGenerator<ExportEntry> {
    return this.read(path, options, async (blocks, p) => (await exporter()).exportTree(blocks, p, options))
  }

  exportCar (path: string, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
    return this.read(path, options, async (blocks, p) => (await import('../content/car.js')).exportCar({ getBytes: async (cid, o) => firstOf(blocks.get(cid, o) as AsyncIterable<Uint8Array>) }, p, options))
  }

  /** `reader` over the blocks of the DAG at a path (`readable`), closed when it stops, early or not */
  private async * read<T> (path: string, options: AbortOptions, reader: (blocks: ReadableDag['blocks'], p: ContentPath) => Promise<AsyncIterable<T>>): AsyncGenerator<T> {
    const p = parseContentPath(path)
    const { blocks, close } = this.components.readable(p.cid, options)
    try {
      yield * await reader(blocks, p)
    } finally {
      close()
    }
  }

  async importCar (car: AsyncIterable<Uint8Array>, options: ImportCarOptions = {}): Promise<ImportCarResult> {
    const store = this.components.store
    return store.withWriteGuard(async () => {
      const { importCar } = await import('../content/car.js')
      const stats = await importCar(car, store.blocks, options)
      const pinned: string[] = []
      if (options.pin !== false) {
        for (const root of stats.roots) {
          const size = await dagSize(store.blocks, root, options)
          try {
            await store.pin(root, { name: root.toString(), size }, options)
          } catch (err: any) {
            if (err.name !== 'BlockNotFoundError') throw err
            throw new IncompleteCarError(`the CAR does not hold the whole DAG of its root ${root}, so it cannot be pinned (${err.message.replace(/^cannot pin \S+: /, '')}); its ${stats.blocks} blocks were stored unpinned: import with --no-pin to keep them that way`)
          }
          pinned.push(root.toString())
        }
      }
      return { roots: stats.roots.map(r => r.toString()), blocks: stats.blocks, bytes: stats.bytes, pinned }
    })
  }

  async ls (path: string, options: AbortOptions = {}): Promise<LsEntry[]> {
    const entries = await (await exporter()).list(this.components.store.blocks, parseContentPath(path), options)
    return entries.map(e => ({ name: e.name, cid: e.cid.toString(), kind: e.kind, size: e.size }))
  }

  async pinAdd (cid: string, options: AbortOptions & { name?: string } = {}): Promise<PinInfo> {
    const store = this.components.store
    const parsed = parseCid(cid)
    // under the write guard, so gc cannot remove the DAG between the check and the pin
    return store.withWriteGuard(async () => {
      // an unreadable record of this root is written anew: pin add is how it is repaired
      const existing = await readablePin(store, parsed)
      // counted again, so pinning again corrects a size recorded wrong
      const size = await dagSize(store.blocks, parsed, options)
      const pin = await store.pin(parsed, { name: options.name ?? existing?.name ?? parsed.toString(), size }, options)
      return pinInfo(pin)
    })
  }

  async pinRm (cid: string): Promise<void> {
    await this.components.store.unpin(parseCid(cid))
  }

  /** Every pin, then every record that cannot be read (with `unreadable` set) */
  async pinLs (): Promise<PinInfo[]> {
    const { pins, unreadable } = await this.components.store.pins.scan()
    return [...pins.map(pinInfo), ...unreadable.map(unreadableInfo)]
  }

  async gc (options: AbortOptions = {}): Promise<GcResult> {
    return this.components.store.gc(options)
  }

  async verify (options: AbortOptions & { drop?: boolean } = {}): Promise<VerifyResult> {
    const r = await this.components.store.verify(options)
    return { ...r, corrupt: r.corrupt.map(c => c.toString()), unreadablePins: r.unreadablePins.map(unreadableInfo) }
  }
}

/** Import content into the store and pin it (unless `pin` is false), under the write guard */
export async function importAndPin (components: { store: Pick<Store, 'blocks' | 'pin' | 'withWriteGuard'>, config: Pick<Config, 'publish'> }, entries: AsyncIterable<ImportEntry>, options: PublishOptions): Promise<PublishResult> {
  const { store, config } = components
  return store.withWriteGuard(async (): Promise<PublishResult> => {
    const { importContent } = await import('../content/import.js')
    const result = await importContent(entries, store.blocks, {
      profile: options.profile ?? config.publish.profile,
      signal: options.signal,
      onProgress: (e) => {
        options.onProgress?.(e.type === 'import:bytes' ? { type: 'publish:bytes', bytes: e.bytes } : { type: 'publish:done', bytes: e.bytes })
      }
    })
    if (options.pin !== false) {
      await store.pin(result.cid, { name: result.name, size: result.size, origin: 'publish' }, options)
    }
    return { cid: result.cid.toString(), size: result.size, name: result.name }
  })
}

/** A CID given to a command; InvalidCIDError when it is not one */
export function parseCid (s: string): CID {
  try {
    return CID.parse(s.trim())
  } catch {
    throw new InvalidCIDError(s)
  }
}

function pinInfo (pin: Pin): PinInfo {
  return { cid: pin.cid.toString(), name: pin.name, size: pin.size, pinnedAt: pin.pinnedAt }
}

function unreadableInfo (u: UnreadablePin): PinInfo {
  return { cid: u.cid?.toString() ?? u.file.split('/').pop() ?? u.file, name: '', size: 0, pinnedAt: 0, unreadable: { file: u.file, reason: u.reason } }
}

/** A root's pin, or undefined when it has none or its record cannot be read */
export async function readablePin (store: Pick<Store, 'pins'>, cid: CID): Promise<Pin | undefined> {
  try {
    return await store.pins.get(cid)
  } catch (err: any) {
    if (err.name === 'UnreadablePinError') return undefined
    throw err
  }
}

/**
 * Bytes of content under a root, as publish counts them: a file's size, or the sizes of the
 * files of a directory tree summed (symlinks count nothing). Read from the store alone; 0 for a
 * DAG that is not UnixFS or not whole here (pinning it then fails on its own terms).
 */
export async function dagSize (blocks: Pick<Store['blocks'], 'getBytes' | 'sizeOf'>, root: CID, options: AbortOptions = {}): Promise<number> {
  try {
    return await sizeUnder(blocks, root, options.signal)
  } catch (err: any) {
    if (options.signal?.aborted === true) throw err
    return 0
  }
}

/**
 * Content bytes under a block, from the blocks that say it: directory nodes are read, a file's
 * root gives its UnixFS size and a raw leaf the size of its block, so no file's bytes are read
 * (the exporter read every page of a site again after each one-page update)
 */
async function sizeUnder (blocks: Pick<Store['blocks'], 'getBytes' | 'sizeOf'>, cid: CID, signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted()
  if (cid.code === raw.code) {
    const size = await blocks.sizeOf(cid)
    if (size == null) throw new BlockNotFoundError(`block ${cid} is not in the store`)
    return size
  }
  if (cid.code !== dagPb.code) throw new InvalidArgumentError(`${cid} is not UnixFS`)
  const node = dagPb.decode(await blocks.getBytes(cid))
  if (node.Data == null) throw new InvalidArgumentError(`${cid} is not UnixFS`)
  // loaded here, by the commands that size a DAG: with it come multiformats' hashes and node:crypto
  const { UnixFS } = await import('ipfs-unixfs')
  const unixfs = UnixFS.unmarshal(node.Data)
  if (unixfs.type === 'file' || unixfs.type === 'raw') return Number(unixfs.fileSize())
  if (unixfs.type !== 'directory' && unixfs.type !== 'hamt-sharded-directory') return 0
  // a directory's pages are raw leaves, sized at once; its subdirectories and larger files are
  // nodes, read one at a time
  let total = 0
  for (const size of await Promise.all(node.Links.filter(l => l.Hash.code === raw.code).map(async l => sizeUnder(blocks, l.Hash, signal)))) total += size
  for (const link of node.Links) {
    if (link.Hash.code !== raw.code) total += await sizeUnder(blocks, link.Hash, signal)
  }
  return total
}

/**
 * UnixFS export, loaded by the commands that read a DAG: the importer, the exporter and CARs are
 * each loaded only by what uses them, so a command starts with no more than it needs
 */
async function exporter (): Promise<typeof import('../content/export.js')> {
  return import('../content/export.js')
}

async function firstOf (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  for await (const bytes of source) return bytes
  throw new Error('the block source yielded nothing')
}
