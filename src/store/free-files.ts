/**
 * Files of removed blocks, kept empty in `.free/` to be written again by later blocks instead of
 * new files. Where ext4 runs without a journal (as on the project's machines), creating a file
 * passes over every inode of its group deleted shortly before, so after a gc removed many blocks
 * each new block's file cost almost as much CPU as hashing its bytes (docs/performance.md).
 * Moving a file keeps its inode; the next block's writer opens it, writes it, cuts it to the
 * block's size, syncs it and only then renames it to the block's name, as a new file would be.
 *
 * A file becomes free when its block is removed: it is renamed out of the block's name first
 * (so no crash leaves a cut or foreign file under a block's name) and then emptied, so the space
 * gc reports freed is free. A reader that opened the block before the rename could still read
 * the file, and would read another block's bytes once it is written again, so a removed file is
 * handed out only once every read in flight when it was removed is over (`reading`). Files left
 * in `.free/` by a crash (emptied or not, or part-way through a write) are free files: their
 * bytes are never read as a block, and a writer cuts each to its block's size.
 */
import fs from 'node:fs/promises'
import path from 'node:path'

export interface FreeFilesInit {
  /** Free files kept at most; a removed block's file beyond that is deleted */
  max: number
  /** A prefix for names, unique to this process */
  prefix: string
}

export class FreeFiles {
  readonly dir: string
  private readonly init: FreeFilesInit
  /** Free files that may be written */
  private readonly ready: string[] = []
  /** Removed while reads were in flight: free once no read is */
  private pending: string[] = []
  /** Files moved in, emptied or waiting to be: counted against `max` with the others */
  private held = 0
  private reads = 0
  private counter = 0
  private loaded?: Promise<void>

  constructor (dir: string, init: FreeFilesInit) {
    this.dir = dir
    this.init = init
  }

  /** Take the files a previous process left (once; later calls wait for the first) */
  async load (): Promise<void> {
    this.loaded ??= this.list()
    await this.loaded
  }

  private async list (): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true })
    const names = await fs.readdir(this.dir)
    for (const name of names) {
      const file = path.join(this.dir, name)
      if (this.held < this.init.max) {
        this.held++
        this.ready.push(file)
      } else {
        await fs.rm(file, { force: true, recursive: true })
      }
    }
  }

  /** How many files are held (ready, waiting for reads to end, or being emptied) */
  get size (): number {
    return this.held
  }

  /** A free file to write a block into, now the caller's (undefined when none is ready) */
  take (): string | undefined {
    const file = this.ready.pop()
    if (file != null) this.held--
    return file
  }

  /** Give back a file from `take` that was not written (it holds what it held before) */
  release (file: string): void {
    this.held++
    this.ready.push(file)
  }

  /**
   * Keep the file of a removed block for reuse: renamed out of its name, emptied, and ready once
   * the reads in flight now are over. Returns false, leaving the file where it is, when the list
   * is full; a missing file counts as kept.
   */
  async keep (file: string): Promise<boolean> {
    await this.load()
    if (this.held >= this.init.max) return false
    const free = path.join(this.dir, `${this.init.prefix}-${(this.counter++).toString(36)}`)
    this.held++
    try {
      await fs.rename(file, free)
    } catch (err: any) {
      this.held--
      if (err.code === 'ENOENT') return true
      throw err
    }
    if (this.reads === 0) {
      await this.empty(free)
    } else {
      this.pending.push(free)
    }
    return true
  }

  /** Run a read of a block file by its name: no file removed meanwhile is handed out before it ends */
  async reading<T> (fn: () => Promise<T>): Promise<T> {
    this.reads++
    try {
      return await fn()
    } finally {
      if (--this.reads === 0 && this.pending.length > 0) {
        const files = this.pending
        this.pending = []
        for (const file of files) void this.empty(file)
      }
    }
  }

  private async empty (file: string): Promise<void> {
    try {
      await fs.truncate(file, 0)
      this.ready.push(file)
    } catch {
      this.held--
      await fs.rm(file, { force: true }).catch(() => {})
    }
  }
}
