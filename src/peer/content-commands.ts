/**
 * The content commands of `ShoalApi`: what goes into the store (publish, fetch, importCar), what is
 * read out of it (cat, get, ls, exportCar; missing blocks come from peers while the peer is
 * online), and its pins, gc and verify
 */
import { CID } from 'multiformats/cid'
import { parseContentPath } from '../content/path.js'
import { IncompleteCarError, InvalidArgumentError, InvalidCIDError } from '../errors.js'
import { PROVIDE_TIMEOUT } from '../constants.js'
import { online } from './online.js'
import { readThrough } from './read-through.js'
import type { Config } from './config.js'
import type { Quota } from './quota.js'
import type { ReadableDag } from './read-through.js'
import type { ContentPath } from '../content/index.js'
import type {
  AbortOptions, CatOptions, ExportEntry, FetchOptions, GcResult, ImportEntry, LsEntry, PinInfo, PublishOptions,
  PublishResult, VerifyResult, ExportCarOptions, ImportCarOptions, ImportCarResult
} from '../api/types.js'
import type { Exchange, FetchResult, FetchHandle, FetchOptions as ExchangeFetchOptions } from '../exchange/index.js'
import type { Gossip } from '../gossip/index.js'
import type { Routing } from '../routing/index.js'
import type { Pin, PinOrigin, Store, UnreadablePin } from '../store/index.js'
import type { Logger } from '@libp2p/interface'

export interface ContentComponents {
  /** The repo directory, named when a command needs a running peer */
  root: string
  store: Pick<Store, 'blocks' | 'pins' | 'pin' | 'unpin' | 'gc' | 'verify' | 'withWriteGuard'>
  config: Pick<Config, 'publish' | 'store'>
  /** Keeps the store within `store.quota` once fetches have grown it */
  quota: Pick<Quota, 'enforceSoon'>
  /** The peer's exchange, while it is online */
  exchange(): Exchange | undefined
  /** The peer's content routing, while it is online */
  routing(): Pick<Routing, 'provide'> | undefined
  /** The peer's gossip, while it runs */
  gossip(): Pick<Gossip, 'announce'> | undefined
  /** A fetch session for a DAG with every source the peer knows (`ShoalPeer.session`) */
  session(root: CID, options?: Omit<ExchangeFetchOptions, 'providers' | 'rank'>): FetchHandle
  /** The peer's log, while it is online */
  log(): Logger | undefined
}

export class ContentCommands {
  private readonly components: ContentComponents

  constructor (components: ContentComponents) {
    this.components = components
  }

  async publish (entries: AsyncIterable<ImportEntry>, options: PublishOptions = {}): Promise<PublishResult> {
    const { store, config } = this.components
    // tags and replicas are checked with the other arguments (api/calls.ts)
    const replicas = options.replicas ?? 0
    const tags = options.tags ?? []
    if (replicas > 0 && (options.announce === false || this.components.gossip() == null)) {
      throw new InvalidArgumentError('replicas are asked for by announcing: start the daemon, and do not pass --no-announce')
    }
    const result = await store.withWriteGuard(async (): Promise<PublishResult> => {
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
    this.provideLater(CID.parse(result.cid))
    const gossip = this.components.gossip()
    if (gossip != null && options.announce !== false) {
      const sent = await gossip.announce({ cid: result.cid, name: announceName(result.name, result.cid), size: result.size, tags, replicas })
      result.announced = sent.recipients
      if (sent.assigned != null) result.assigned = await sent.assigned
    }
    return result
  }

  /** Provide a root in the background; the DHT's reprovider keeps it fresh afterwards */
  private provideLater (cid: CID): void {
    const routing = this.components.routing()
    if (routing == null) return
    const log = this.components.log()
    void routing.provide(cid, { signal: AbortSignal.timeout(PROVIDE_TIMEOUT) }).then(
      ({ accepted }) => { log?.('provided %s to %d peers', cid, accepted) },
      (err) => { log?.('could not provide %s: %s', cid, err.message) }
    )
  }

  /** `ShoalApi.fetch`; the pin is made with `origin` (a root already pinned keeps its own) */
  async fetch (cid: string, options: FetchOptions & Pick<ExchangeFetchOptions, 'maxBytes'> = {}, origin: PinOrigin = 'fetch'): Promise<FetchResult> {
    const store = this.components.store
    online(this.components.exchange(), this.components.root, 'fetching')
    const root = parseCid(cid)
    const result = await store.withWriteGuard(async () => {
      const session = this.components.session(root, { from: options.from, signal: options.signal, onProgress: options.onProgress, maxBytes: options.maxBytes })
      const result = await session.result
      const size = await dagSize(store.blocks, root, options)
      // an unreadable record of this root is written anew, as a pin of the user's own: what it
      // was is unknown, and a replica's pin could be dropped by the replication policy
      const existing = await readablePin(store, root)
      const unreadable = existing == null && await store.pins.has(root)
      await store.pin(root, { name: options.name ?? existing?.name ?? root.toString(), size, origin: existing?.origin ?? (unreadable && origin === 'replica' ? 'fetch' : origin) }, options)
      return result
    })
    // a peer that has fetched content serves it, so it says so
    this.provideLater(root)
    this.components.quota.enforceSoon()
    return result
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
    const { blocks, close } = this.readable(p.cid, options)
    try {
      yield * await reader(blocks, p)
    } finally {
      close()
    }
  }

  /**
   * Blocks to read a DAG from: the store alone while offline; when online, missing blocks come
   * through a fetch session the reader waits on
   */
  private readable (root: CID, options: AbortOptions): ReadableDag {
    const { store, config } = this.components
    if (this.components.exchange() == null) return { blocks: store.blocks, close: () => {} }
    return readThrough({
      store: store.blocks,
      session: (signal) => this.components.session(root, { signal }),
      onFetched: () => { this.components.quota.enforceSoon() }
    }, {
      // with a quota, what is read is what is used: least recently used cache goes first
      touch: config.store.quota > 0
    }, options)
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

/** Announced names are single path segments */
function announceName (name: string, cid: string): string {
  const base = name.split('/').filter(Boolean).pop() ?? ''
  return base === '' ? cid : base.slice(0, 255)
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
async function readablePin (store: Pick<Store, 'pins'>, cid: CID): Promise<Pin | undefined> {
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
export async function dagSize (blocks: Pick<Store['blocks'], 'get'>, root: CID, options: AbortOptions = {}): Promise<number> {
  const p = { cid: root, segments: [] }
  const { exportTree, statPath } = await exporter()
  try {
    const { kind, size } = await statPath(blocks, p, options)
    if (kind === 'file') return size
    if (kind !== 'directory') return 0
    let total = 0
    for await (const e of exportTree(blocks, p, options)) {
      if (e.kind === 'file') total += e.size
    }
    return total
  } catch (err: any) {
    if (options.signal?.aborted === true) throw err
    return 0
  }
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
