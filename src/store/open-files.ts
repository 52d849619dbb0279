import fs from 'node:fs'

interface OpenFile {
  fd: number
  /** Reads using the descriptor now */
  users: number
  /** Close once the last user is done (the file was deleted, or the pool is closing) */
  doomed: boolean
}

/**
 * Read-only descriptors of recently read files, kept open so a read of part of a block costs one
 * `read` instead of `open`, `read` and `close` (three trips through the thread pool). At most
 * `max` are open at once: the least recently used idle one is closed to make room, and when every
 * one is in use, a read waits for one to be released.
 *
 * Blocks never change under their name, so a kept descriptor reads the right bytes for as long as
 * the block is stored; `forget` (called when a block is deleted) closes it, so the space of a
 * removed block is freed and a later read finds it missing.
 */
export class OpenFiles {
  /** Least recently used first */
  private readonly files = new Map<string, OpenFile>()
  private readonly opening = new Map<string, Promise<OpenFile>>()
  private readonly waiting: Array<() => void> = []
  /** Descriptors open or being opened */
  private count = 0

  constructor (private readonly max: number) {
    if (!(max >= 1)) throw new RangeError('an open-file pool needs room for at least one file')
  }

  /** Descriptors open now (and being opened) */
  get size (): number {
    return this.count
  }

  /**
   * Run `fn` with a descriptor of `file`, opened read-only if the pool has none; rejects with
   * the `open` error (ENOENT for a missing file)
   */
  async use<T> (file: string, fn: (fd: number) => Promise<T>): Promise<T> {
    const entry = await this.acquire(file)
    try {
      return await fn(entry.fd)
    } finally {
      this.release(file, entry)
    }
  }

  /** Close the descriptor of `file` once no read uses it; the next read opens the file again */
  forget (file: string): void {
    const entry = this.files.get(file)
    if (entry == null) return
    this.files.delete(file)
    entry.doomed = true
    if (entry.users === 0) this.closeFd(entry)
  }

  /**
   * Close every descriptor, those in use once their reads end (a store that stops leaves none
   * open); a later read opens its file again
   */
  async close (): Promise<void> {
    await Promise.allSettled(this.opening.values())
    for (const file of [...this.files.keys()]) this.forget(file)
  }

  private async acquire (file: string): Promise<OpenFile> {
    while (true) {
      const known = this.files.get(file)
      if (known != null) {
        known.users++
        // most recently used last
        this.files.delete(file)
        this.files.set(file, known)
        return known
      }
      const pending = this.opening.get(file)
      if (pending != null) {
        await pending.catch(() => {})
        continue
      }
      if (this.count >= this.max) {
        // an idle descriptor's slot is free once it is closed; with none idle, one is released
        // when a read ends: either wakes a waiter
        this.closeIdle()
        await new Promise<void>(resolve => this.waiting.push(resolve))
        continue
      }
      this.count++
      const opened = openFd(file).then((fd) => {
        // the opener is its first user, so no other read's eviction closes it before it reads
        const entry: OpenFile = { fd, users: 1, doomed: false }
        this.files.set(file, entry)
        return entry
      }, (err) => {
        this.count--
        this.wake()
        throw err
      }).finally(() => this.opening.delete(file))
      this.opening.set(file, opened)
      return await opened
    }
  }

  private release (file: string, entry: OpenFile): void {
    entry.users--
    if (entry.users > 0) return
    if (entry.doomed) this.closeFd(entry)
    else if (this.files.get(file) === entry) this.wake()
  }

  /** Close the least recently used descriptor no read uses, if there is one */
  private closeIdle (): void {
    for (const [file, entry] of this.files) {
      if (entry.users > 0) continue
      this.files.delete(file)
      entry.doomed = true
      this.closeFd(entry)
      return
    }
  }

  private closeFd (entry: OpenFile): void {
    // the slot is free once the descriptor is closed, so the pool never holds more than `max`
    fs.close(entry.fd, () => {
      this.count--
      this.wake()
    })
  }

  private wake (): void {
    this.waiting.shift()?.()
  }
}

async function openFd (file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => { err != null ? reject(err) : resolve(fd) })
  })
}
