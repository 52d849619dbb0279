/**
 * The store: blocks on disk, recursive pins, gc and verify. It knows nothing of the network.
 */
import path from 'node:path'
import { MAX_BLOCK_SIZE } from '../constants.js'
import { mhKey, walkDag } from './dag.js'
import { FsBlocks } from './blocks.js'
import { Pins } from './pins.js'
import { BlockNotFoundError, NotPinnedError, UnreadablePinError } from '../errors.js'
import type { Pin, PinOrigin, UnreadablePin } from './pins.js'
import type { CID } from 'multiformats/cid'
import type { Mortice } from 'mortice'

export type { Pin, PinOrigin, PinScan, UnreadablePin } from './pins.js'
export { linksOf, mhKey } from './dag.js'

/** The multicodec of SHA-256 multihashes */
const SHA2_256 = 0x12

/** Hashing (verify.ts), loaded by the first check: a command that only reads never loads it */
let verifyCode: Promise<typeof import('./verify.js')> | undefined

/** Whether the bytes (one buffer, or a block's chunks in order) hash to the CID's multihash (verify.ts) */
export async function verifies (cid: CID, data: Uint8Array | readonly Uint8Array[]): Promise<boolean> {
  verifyCode ??= import('./verify.js')
  return (await verifyCode).verifies(cid, data)
}
export type { FsBlocks } from './blocks.js'

export interface StoreInit {
  /**
   * Largest block `put` accepts
   * @default 2 MiB
   */
  maxBlockSize?: number
  /**
   * fdatasync every block before it is renamed into place, so a power cut cannot leave a
   * block whose name promises bytes it lacks
   * @default true
   */
  fsync?: boolean
}

export interface AbortOptions { signal?: AbortSignal }

export interface GcResult {
  /** Blocks removed */
  removed: number
  /** Bytes freed */
  freed: number
  /** Blocks kept because a pin needs them */
  kept: number
}

export interface EvictResult {
  removed: number
  freed: number
  /** Bytes stored afterwards */
  bytes: number
  /** Bytes pinned content takes */
  pinnedBytes: number
  /**
   * Pin records that could not be read; the DAGs of the roots their files are named for were
   * kept as if pinned
   */
  unreadablePins: UnreadablePin[]
  /** Nothing was done: writes were running (`unlessBusy`) */
  busy?: true
}

interface SweepResult extends GcResult, Omit<EvictResult, 'busy'> {}

export interface VerifyResult {
  /** Blocks re-hashed */
  checked: number
  /** CIDs (raw, of the stored multihash) whose bytes no longer match */
  corrupt: CID[]
  /** Blocks stored with a hash function shoal cannot check */
  skipped: number
  /** Whether the corrupt blocks were removed */
  dropped: boolean
  /** Pin records that could not be read (verify neither repairs nor removes them) */
  unreadablePins: UnreadablePin[]
}

export interface StoreStat {
  blocks: number
  bytes: number
  /** Pin records, readable or not */
  pins: number
  /** Content bytes the readable pins say their DAGs hold */
  pinnedSize: number
}

export interface Store {
  readonly blocks: FsBlocks
  readonly pins: Pins
  /**
   * Ready the store: clears what a crash left half-written (temporary blocks and pin records).
   * With `readOnly`, for a reader that holds no lock, nothing is changed: a writer may be running.
   */
  open(options?: { readOnly?: boolean }): Promise<void>
  /** Close the block files kept open for reads; the store may be read again after */
  close(): Promise<void>
  /**
   * Pin a root whose whole DAG is in the store; throws BlockNotFoundError naming the first
   * missing block otherwise
   */
  pin(cid: CID, meta: { name: string, size: number, origin?: PinOrigin }, options?: AbortOptions): Promise<Pin>
  /** Blocks of a DAG that are not stored (as far as the stored blocks reveal); empty when it is all here */
  missing(cid: CID, options?: AbortOptions): Promise<CID[]>
  unpin(cid: CID): Promise<void>
  /**
   * Remove every block no pin needs; throws UnreadablePinError, removing nothing, when a pin
   * record cannot be read
   */
  gc(options?: AbortOptions): Promise<GcResult>
  /**
   * Bring the store down to `maxBytes` by removing blocks no pin needs, least recently used
   * first (see `blocks.touch`); pinned content is never removed, so the store may stay above
   * `maxBytes` when pins alone exceed it. A pin record that cannot be read still keeps the DAG
   * of the root its file is named for (reported in `unreadablePins`); one whose file name is not
   * a CID stops the eviction with UnreadablePinError, removing nothing. With `unlessBusy`,
   * nothing is done (`busy` in the result) while writes hold the guard: a waiting eviction would
   * hold back every later write until they end.
   */
  evict(maxBytes: number, options?: AbortOptions & { unlessBusy?: boolean }): Promise<EvictResult>
  /** Re-hash every block; with `drop`, remove those that no longer match */
  verify(options?: AbortOptions & { drop?: boolean }): Promise<VerifyResult>
  stat(options?: AbortOptions): Promise<StoreStat>
  /**
   * Run `fn` while gc cannot run: for writers whose blocks are not pinned yet (publish, fetch)
   */
  withWriteGuard<T>(fn: () => Promise<T>): Promise<T>
}

class DiskStore implements Store {
  readonly blocks: FsBlocks
  readonly pins: Pins
  /** gc's lock (writers hold it to read, gc to write), made on first use: reads never need it */
  private gcLockMade?: Promise<Mortice>
  /** Writes holding (or waiting for) the guard gc and eviction wait for */
  private guarded = 0

  constructor (dir: string, init: StoreInit) {
    this.blocks = new FsBlocks(path.join(dir, 'blocks'), {
      maxBlockSize: init.maxBlockSize ?? MAX_BLOCK_SIZE,
      fsync: init.fsync ?? true
    })
    this.pins = new Pins(path.join(dir, 'pins'), { fsync: init.fsync ?? true })
  }

  async open (options: { readOnly?: boolean } = {}): Promise<void> {
    if (options.readOnly === true) return
    await this.blocks.open()
    await this.pins.open()
  }

  async close (): Promise<void> {
    await this.blocks.close()
  }

  private dagSource () {
    return {
      getBytes: async (cid: CID) => this.blocks.getBytes(cid).catch(() => undefined),
      sizeOf: async (cid: CID) => this.blocks.sizeOf(cid)
    }
  }

  async missing (cid: CID, options?: AbortOptions): Promise<CID[]> {
    return (await walkDag(cid, this.dagSource(), options)).missing
  }

  async pin (cid: CID, meta: { name: string, size: number, origin?: PinOrigin }, options?: AbortOptions): Promise<Pin> {
    const walk = await walkDag(cid, this.dagSource(), options)
    if (walk.missing.length > 0) {
      throw new BlockNotFoundError(`cannot pin ${cid}: ${walk.missing.length} block(s) of its DAG are not in the store, the first is ${walk.missing[0]}`)
    }
    // the blocks' directory entries reach the disk before the pin that promises them
    await this.blocks.syncDirs()
    const pin: Pin = { cid, name: meta.name, size: meta.size, pinnedAt: Date.now(), ...(meta.origin != null ? { origin: meta.origin } : {}) }
    await this.pins.add(pin)
    return pin
  }

  async unpin (cid: CID): Promise<void> {
    if (!await this.pins.rm(cid)) {
      throw new NotPinnedError(`${cid} is not pinned`)
    }
  }

  private async gcLock (): Promise<Mortice> {
    this.gcLockMade ??= import('mortice').then(({ default: createMortice }) => createMortice({ singleProcess: true }))
    return this.gcLockMade
  }

  async withWriteGuard<T> (fn: () => Promise<T>): Promise<T> {
    this.guarded++
    let release: (() => void) | undefined
    try {
      release = await (await this.gcLock()).readLock()
      return await fn()
    } finally {
      release?.()
      this.guarded--
    }
  }

  /** Keys of every block the DAGs of these roots need */
  private async needed (roots: CID[], options?: AbortOptions): Promise<Set<string>> {
    const needed = new Set<string>()
    for (const root of roots) {
      const walk = await walkDag(root, this.dagSource(), options)
      for (const cid of walk.cids) needed.add(mhKey(cid))
    }
    return needed
  }

  async evict (maxBytes: number, options?: AbortOptions & { unlessBusy?: boolean }): Promise<EvictResult> {
    if (options?.unlessBusy === true && this.guarded > 0) return { removed: 0, freed: 0, bytes: 0, pinnedBytes: 0, unreadablePins: [], busy: true }
    const { removed, freed, bytes, pinnedBytes, unreadablePins } = await this.sweep({ ...options, maxBytes, refused: 'eviction refused, nothing was removed' })
    return { removed, freed, bytes, pinnedBytes, unreadablePins }
  }

  async gc (options?: AbortOptions): Promise<GcResult> {
    const { removed, freed, kept } = await this.sweep({ ...options, refused: 'gc refused, nothing was removed' })
    return { removed, freed, kept }
  }

  /**
   * Remove blocks no pin needs, holding gc's lock. Without `maxBytes` every such block goes, as
   * the store lists them; with it, the least recently used go first until the store holds at
   * most `maxBytes`. Without `maxBytes` every pin must be known, so any pin record that cannot be
   * read stops the sweep with UnreadablePinError; with it, one still keeps the DAG of the root
   * its file is named for, and only one whose file name is not a CID stops the sweep.
   */
  private async sweep (options: AbortOptions & { maxBytes?: number, refused: string }): Promise<SweepResult> {
    const release = await (await this.gcLock()).writeLock(options)
    try {
      const { maxBytes } = options
      const { pins, unreadable } = await this.pins.scan()
      const refusing = maxBytes == null ? unreadable[0] : unreadable.find(u => u.cid == null)
      if (refusing != null) throw new UnreadablePinError(options.refused, refusing, unreadable.length - 1)
      const roots = [...pins.map(p => p.cid), ...unreadable.flatMap(u => u.cid != null ? [u.cid] : [])]
      const needed = await this.needed(roots, options)
      const result: SweepResult = { removed: 0, freed: 0, kept: 0, bytes: 0, pinnedBytes: 0, unreadablePins: unreadable }
      const remove = async (block: { cid: CID, size: number }): Promise<void> => {
        await this.blocks.delete(block.cid)
        result.removed++
        result.freed += block.size
        result.bytes -= block.size
      }
      const unneeded: Array<{ cid: CID, size: number, usedAt: number }> = []
      for await (const block of this.blocks.list(options)) {
        result.bytes += block.size
        if (needed.has(mhKey(block.cid))) {
          result.kept++
          result.pinnedBytes += block.size
        } else if (maxBytes == null) {
          await remove(block)
        } else {
          unneeded.push(block)
        }
      }
      if (maxBytes != null) {
        unneeded.sort((a, b) => a.usedAt - b.usedAt)
        for (const block of unneeded) {
          if (result.bytes <= maxBytes) break
          await remove(block)
        }
      }
      return result
    } finally {
      release()
    }
  }

  async verify (options?: AbortOptions & { drop?: boolean }): Promise<VerifyResult> {
    const { unreadable } = await this.pins.scan()
    const result: VerifyResult = { checked: 0, corrupt: [], skipped: 0, dropped: options?.drop === true, unreadablePins: unreadable }
    for await (const { cid } of this.blocks.list(options)) {
      if (cid.multihash.code !== SHA2_256) {
        result.skipped++
        continue
      }
      let bytes: Uint8Array
      try {
        bytes = await this.blocks.getBytes(cid, options)
      } catch {
        continue // removed while we walked
      }
      result.checked++
      if (!await verifies(cid, bytes)) {
        result.corrupt.push(cid)
        if (options?.drop === true) {
          await this.blocks.delete(cid)
        }
      }
    }
    return result
  }

  async stat (options?: AbortOptions): Promise<StoreStat> {
    const { pins, unreadable } = await this.pins.scan()
    const stat: StoreStat = { blocks: 0, bytes: 0, pins: pins.length + unreadable.length, pinnedSize: pins.reduce((n, p) => n + p.size, 0) }
    for await (const { size } of this.blocks.list(options)) {
      stat.blocks++
      stat.bytes += size
    }
    return stat
  }
}

/** A store rooted at `dir` (the repo's `store/` directory); call `open()` before use */
export function createStore (dir: string, init: StoreInit = {}): Store {
  return new DiskStore(dir, init)
}
