import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { BlockNotFoundError, BlockTooLargeError, StoreWriteError } from '../errors.js'
import { directView } from './aligned.js'
import { keyOf, listBlockFiles, readAt, shardOf, writeChunks, writeStreamed } from './block-files.js'
import { FreeFiles } from './free-files.js'
import { OpenFiles } from './open-files.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'

const TMP_DIR = '.tmp'
const FREE_DIR = '.free'
/**
 * Files of removed blocks kept (empty) for later blocks (free-files.ts): 4 GiB of 1 MiB blocks
 * removed between fetches; an empty file costs an inode and a directory entry
 */
const FREE_FILES = 4096
/** Blocks smaller than this go through the page cache: direct I/O pays off for large writes only */
const DIRECT_MIN = 64 * 1024
/**
 * Block files kept open for reads of part of a block (`readRange`): enough for the hot leaves of
 * a busy gateway, far below the usual 1024-descriptor soft limit
 */
const OPEN_BLOCK_FILES = 256
/** The multicodec of SHA-256 multihashes */
const SHA2_256 = 0x12
let tmpCounter = 0

/**
 * What writing blocks (and serving them whole) takes beyond reading them, loaded by the first
 * write or served block (a command that only reads never loads it): the block I/O thread, hashing, and the prefix of this process's temporary
 * names, random per process and counted within it (a random name per block cost the fetching
 * event loop more than its other bookkeeping), created exclusively all the same
 */
interface WritePath {
  io: typeof import('./io-thread.js')
  verifies: typeof import('./verify.js').verifies
  tmpPrefix: string
}

let writePath: Promise<WritePath> | undefined

async function loadWritePath (): Promise<WritePath> {
  writePath ??= Promise.all([import('./io-thread.js'), import('./verify.js'), import('node:crypto')])
    .then(([io, verify, crypto]) => ({ io, verifies: verify.verifies, tmpPrefix: crypto.randomBytes(8).toString('hex') }))
  return writePath
}

export interface FsBlocksInit {
  /** Largest block accepted by `put` */
  maxBlockSize: number
  /** fdatasync each block before it is renamed into place */
  fsync: boolean
  /**
   * Block files `readRange` keeps open at most
   * @default 256
   */
  maxOpenFiles?: number
}

/**
 * Blocks on disk, one file each, keyed by multihash (so CIDv0 and CIDv1 of the same bytes share
 * a file) and sharded by the next-to-last two characters of the key, as Kubo's flatfs does.
 *
 * A block is written under a temporary name in `.tmp/` and renamed into place only when it is
 * complete (and, by default, synced), so a crash at any moment never leaves a partial block
 * under a block's name. `.tmp/` is emptied when the store opens. A removed block's file is kept
 * in `.free/` (empty, up to FREE_FILES) and written again by a later block (free-files.ts).
 */
export class FsBlocks implements Blockstore {
  readonly dir: string
  private readonly tmpDir: string
  private readonly init: FsBlocksInit
  private readonly knownShards = new Set<string>()
  private readonly unsyncedShards = new Set<string>()
  /** Whether direct writes work here: unknown until the first one */
  private direct?: boolean
  private readonly openFiles: OpenFiles
  private readonly free: FreeFiles

  /** Whether large blocks are written past the page cache: undefined until one was tried */
  get directWrites (): boolean | undefined {
    return this.direct
  }

  constructor (dir: string, init: FsBlocksInit) {
    this.dir = dir
    this.tmpDir = path.join(dir, TMP_DIR)
    this.init = init
    this.openFiles = new OpenFiles(init.maxOpenFiles ?? OPEN_BLOCK_FILES)
    // unique enough among this store's processes: one at a time holds the repo's lock
    this.free = new FreeFiles(path.join(dir, FREE_DIR), { max: FREE_FILES, prefix: `${Date.now().toString(36)}${process.pid.toString(36)}` })
  }

  /** How many files of removed blocks are kept for reuse */
  get freeFiles (): number {
    return this.free.size
  }

  /** Close the block files `readRange` keeps open */
  async close (): Promise<void> {
    await this.openFiles.close()
  }

  async open (): Promise<void> {
    await fs.rm(this.tmpDir, { recursive: true, force: true })
    await fs.mkdir(this.tmpDir, { recursive: true })
  }

  /** The file a block lives in */
  pathOf (cid: CID): string {
    const key = keyOf(cid)
    return path.join(this.dir, shardOf(key), key)
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    if (cid.multihash.code === identity.code) {
      return true
    }
    try {
      await fs.access(this.pathOf(cid))
      return true
    } catch {
      return false
    }
  }

  /** Size of a stored block, or undefined when it is not stored */
  async sizeOf (cid: CID): Promise<number | undefined> {
    if (cid.multihash.code === identity.code) {
      return cid.multihash.digest.byteLength
    }
    try {
      return (await fs.stat(this.pathOf(cid))).size
    } catch {
      return undefined
    }
  }

  async put (cid: CID, val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    options?.signal?.throwIfAborted()
    if (cid.multihash.code === identity.code) {
      return cid
    }
    const final = this.pathOf(cid)
    const writing = await loadWritePath()
    // no existence check: renaming over a stored block replaces it with the same bytes, and the
    // callers (importer, fetch) rarely put a block twice, so the check would cost every put a
    // trip through the thread pool to save a rare duplicate write
    const tmp = this.tmpName(writing)
    let renamed = false
    try {
      if (val instanceof Uint8Array) {
        this.checkSize(cid, val.byteLength)
        // one call: open, write, sync (flush) and close in the thread pool
        await fs.writeFile(tmp, val, { flag: 'wx', flush: this.init.fsync })
      } else if (Array.isArray(val)) {
        let size = 0
        for (const c of val) size += c.byteLength
        this.checkSize(cid, size)
        if (val.length === 1 && await this.putDirect(writing, tmp, final, val[0]) === 'stored') {
          renamed = true
          return cid
        }
        await writeChunks(tmp, val, size, this.init.fsync)
      } else {
        await writeStreamed(tmp, val, this.init.fsync, (size) => { this.checkSize(cid, size) })
      }
      const shard = path.dirname(final)
      if (!this.knownShards.has(shard)) {
        await fs.mkdir(shard, { recursive: true })
        this.knownShards.add(shard)
      }
      await fs.rename(tmp, final)
      this.unsyncedShards.add(shard)
      renamed = true
      return cid
    } catch (err) {
      // the disk's failure (full, read-only, I/O) is named as such; a streamed value's own
      // errors are its source's
      throw val instanceof Uint8Array || Array.isArray(val) ? StoreWriteError.from(`block ${cid}`, err) : err
    } finally {
      if (!renamed) await fs.rm(tmp, { force: true })
    }
  }

  /** Refuse a block larger than the store takes, before anything is written */
  private checkSize (cid: CID, size: number): void {
    if (size > this.init.maxBlockSize) {
      throw new BlockTooLargeError(`block ${cid} is larger than the ${this.init.maxBlockSize} byte limit`)
    }
  }

  /**
   * Store a block held in aligned shared memory (a received block, see aligned.ts) past the page
   * cache (`O_DIRECT`), written, synced and renamed into place by the block I/O thread
   * (io-thread.ts); with a `digest`, only if the block hashes to it. Filling the page cache costs
   * more CPU than the copy itself where fresh pages are expensive (virtual machines that hand
   * free memory back to their host), and a fetched block is rarely read again soon. Returns
   * 'mismatch' when the digest differs, and 'skipped', with nothing written, when the block does
   * not qualify or the file system refuses direct I/O (the store then stops trying).
   */
  private async putDirect (writing: WritePath, tmp: string, final: string, block: Uint8Array, digest?: Uint8Array): Promise<'stored' | 'mismatch' | 'skipped'> {
    if (this.direct === false) return 'skipped'
    const size = block.byteLength
    // aligned memory is shared memory (aligned.ts), which the thread takes
    const view = size >= DIRECT_MIN ? directView(block) : undefined
    const thread = view != null ? writing.io.ioThread() : undefined
    if (view == null || thread == null) return 'skipped'
    const shard = path.dirname(final)
    const known = this.knownShards.has(shard)
    await this.free.load()
    const reused = this.free.take()
    const file = reused ?? tmp
    let outcome: 'stored' | 'refused' | 'mismatch'
    try {
      outcome = await thread.writeDirect(view, { tmp: file, reuse: reused != null, final, shard: known ? undefined : shard, size, fsync: this.init.fsync, digest })
    } catch (err: any) {
      // a failed job's file (a free one too) was removed by the thread
      if (err.code !== writing.io.IO_THREAD_FAILED) throw err
      // the thread died, perhaps part-way: write it here
      await fs.rm(file, { force: true })
      return 'skipped'
    }
    if (outcome === 'mismatch') {
      // nothing was written to it
      if (reused != null) this.free.release(reused)
      return outcome
    }
    this.direct = outcome === 'stored'
    if (outcome === 'refused') return 'skipped'
    this.knownShards.add(shard)
    this.unsyncedShards.add(shard)
    return outcome
  }

  /**
   * Store a block received from a peer only if its bytes hash to its CID (SHA-256); false, with
   * nothing stored, when they do not. A block in aligned shared memory is checked and written by
   * the block I/O thread in one job; any other is checked (`verifies`) and then put.
   */
  async putVerified (cid: CID, val: Uint8Array | Uint8Array[]): Promise<boolean> {
    const chunks = val instanceof Uint8Array ? [val] : val
    const writing = await loadWritePath()
    if (chunks.length === 1 && cid.multihash.code === SHA2_256) {
      this.checkSize(cid, chunks[0].byteLength)
      const tmp = this.tmpName(writing)
      const outcome = await this.putDirect(writing, tmp, this.pathOf(cid), chunks[0], cid.multihash.digest).catch((err) => { throw StoreWriteError.from(`block ${cid}`, err) })
      if (outcome === 'mismatch') return false
      if (outcome === 'stored') return true
    }
    if (!await writing.verifies(cid, val)) return false
    await this.put(cid, val)
    return true
  }

  /** A name in `.tmp/` no other write of this process or another uses */
  private tmpName (writing: WritePath): string {
    return path.join(this.tmpDir, `${writing.tmpPrefix}-${(tmpCounter++).toString(36)}`)
  }

  /**
   * Sync the directories blocks were renamed into since the last call, so the renames survive a
   * power cut. Called before a root is pinned.
   */
  async syncDirs (): Promise<void> {
    if (!this.init.fsync) {
      this.unsyncedShards.clear()
      return
    }
    const shards = [...this.unsyncedShards]
    this.unsyncedShards.clear()
    await Promise.all(shards.map(async (dir) => {
      const handle = await fs.open(dir, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    }))
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) {
      yield await this.put(cid, bytes, options)
    }
  }

  /** The whole block in one buffer; blocks are small (at most `maxBlockSize`) */
  async getBytes (cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    if (cid.multihash.code === identity.code) {
      return cid.multihash.digest
    }
    try {
      return await this.free.reading(async () => await fs.readFile(this.pathOf(cid), { signal: options?.signal }))
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        throw new BlockNotFoundError(`block ${cid} is not in the store`)
      }
      throw err
    }
  }

  /**
   * The whole block, read by the block I/O thread into memory that is handed over, not copied
   * (io-thread.ts), for a server that sends it on: its event loop spends one message on the
   * block instead of the four file calls and the buffer of `getBytes`, which is used where the
   * thread is missing. With `into` (shared memory the caller uses again), a block that fits is
   * read into it and a view of it returned, so serving makes no memory per block. A file over
   * `maxBlockSize` (a store edited by hand) is refused with BlockTooLargeError before it is read.
   */
  async serveBytes (cid: CID, options?: AbortOptions & { into?: Uint8Array }): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const io = cid.multihash.code === identity.code ? undefined : (await loadWritePath()).io
    const thread = io?.ioThread()
    if (io == null || thread == null) return await this.getBytes(cid, options)
    const into = options?.into
    const file = this.pathOf(cid)
    let data: Uint8Array | undefined
    let failed = false
    try {
      const read = async (): Promise<Uint8Array | undefined> => {
        if (into != null && io.isShared(into) && into.byteLength <= this.init.maxBlockSize) {
          const size = await thread.readInto(file, into)
          if (size !== undefined) return into.subarray(0, size)
        }
        return await thread.read(file, this.init.maxBlockSize)
      }
      data = await this.free.reading(read)
    } catch (err: any) {
      if (err.code === 'ENOENT') throw new BlockNotFoundError(`block ${cid} is not in the store`)
      if (err.code !== io.IO_THREAD_FAILED) throw err
      // the thread died: read it here
      failed = true
    }
    if (data === undefined && !failed) throw new BlockTooLargeError(`block ${cid} is larger than the ${this.init.maxBlockSize} byte limit`)
    return data ?? await this.getBytes(cid, options)
  }

  /**
   * Bytes `offset` to `offset + length` of a stored block (fewer past its end), read from its
   * file without reading the rest, through a descriptor kept open for the next read. The bytes
   * are not hashed again: a block was verified (or hashed, when imported) before it was stored
   * under its name. With `into` (at least `length` bytes), the bytes are read into it and a view
   * of it is returned. Throws BlockNotFoundError when the block is not stored.
   */
  async readRange (cid: CID, offset: number, length: number, options?: AbortOptions & { into?: Uint8Array }): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`bad range of block ${cid}: ${length} bytes at ${offset}`)
    }
    if (cid.multihash.code === identity.code) {
      return cid.multihash.digest.subarray(offset, offset + length)
    }
    const into = options?.into
    if (into != null && into.byteLength < length) throw new RangeError(`a buffer of ${into.byteLength} bytes cannot take ${length}`)
    const buf = into != null ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.allocUnsafe(length)
    try {
      const read = await this.free.reading(async () => await this.openFiles.use(this.pathOf(cid), async (fd) => readAt(fd, buf, offset)))
      return read < length ? buf.subarray(0, read) : buf
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        throw new BlockNotFoundError(`block ${cid} is not in the store`)
      }
      throw err
    }
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    yield await this.getBytes(cid, options)
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) {
      yield { cid, bytes: this.get(cid, options) }
    }
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const file = this.pathOf(cid)
    // a kept descriptor would keep the removed block's space, and its bytes readable
    this.openFiles.forget(file)
    if (!await this.free.keep(file)) await fs.rm(file, { force: true })
  }

  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  /** Mark a block as just used, for least-recently-used eviction (its mtime is its last use) */
  async touch (cid: CID): Promise<void> {
    if (cid.multihash.code === identity.code) return
    const now = new Date()
    await fs.utimes(this.pathOf(cid), now, now).catch(() => {})
  }

  /** Every stored block, as a raw CIDv1 of its multihash, with its size on disk and last use */
  async * list (options?: AbortOptions): AsyncGenerator<{ cid: CID, size: number, usedAt: number }> {
    yield * listBlockFiles(this.dir, options)
  }

  async * getAll (options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const { cid } of this.list(options)) {
      yield { cid, bytes: this.get(cid, options) }
    }
  }
}

export { keyOf } from './block-files.js'
