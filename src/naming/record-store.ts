/**
 * The newest record held of each name, this peer's own and others' alike: one file per name
 * under `names/` (`<k51...>.ipns`, the marshalled record), written atomically, so a peer that
 * restarts answers with what it last held while it asks the swarm for newer.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { unmarshalIPNSRecord } from 'ipns'
import { isNewer, MAX_RECORD_BYTES } from './records.js'
import type { IPNSRecord } from 'ipns'

export interface HeldRecord {
  record: IPNSRecord
  bytes: Uint8Array
}

const FILE = /^k[a-z0-9]{40,100}\.ipns$/

export class RecordStore {
  private readonly dir: string
  private readonly held = new Map<string, HeldRecord>()
  private readonly fsync: boolean
  /** The comparison running or waiting for each name, and the write */
  private readonly deciding = new Map<string, Promise<unknown>>()
  private readonly writing = new Map<string, Promise<unknown>>()

  constructor (dir: string, options: { fsync?: boolean } = {}) {
    this.dir = dir
    this.fsync = options.fsync !== false
  }

  /** The record held of `name` (`k51...`), read from disk the first time */
  async get (name: string): Promise<HeldRecord | undefined> {
    const cached = this.held.get(name)
    if (cached != null) return cached
    const file = path.join(this.dir, `${name}.ipns`)
    let bytes: Uint8Array
    try {
      const st = await fs.stat(file)
      // a file grown past the limit is not read into memory
      if (st.size > MAX_RECORD_BYTES) return undefined
      bytes = await fs.readFile(file)
    } catch (err: any) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    }
    try {
      const held = { record: unmarshalIPNSRecord(bytes), bytes }
      this.held.set(name, held)
      return held
    } catch {
      // an unreadable file is replaced by the next valid record
      return undefined
    }
  }

  /**
   * Keep `bytes` (already checked) as the record of `name` if it is newer than the one held;
   * resolves, once it is on disk too, with whether it was kept
   */
  async put (name: string, bytes: Uint8Array, record: IPNSRecord = unmarshalIPNSRecord(bytes)): Promise<boolean> {
    const { kept, written } = await this.take(name, bytes, record)
    await written
    return kept
  }

  /**
   * `put` for a record that came from elsewhere, or one published here whose sequence is
   * reserved (sequences.ts): resolves as soon as it is compared with the one
   * held and, if newer, held in its place (`get` answers with it), so whoever acts on it (the
   * follower's fetch) does not wait for the disk; `written` settles once it is on disk. A write
   * that fails leaves the record held before, as `put` would (a peer asks again after a restart)
   */
  async take (name: string, bytes: Uint8Array, record: IPNSRecord = unmarshalIPNSRecord(bytes)): Promise<{ kept: boolean, written: Promise<void> }> {
    // one comparison of a name at a time, and its writes in the same order: two records arriving
    // together (gossip and a DHT lookup) are each compared with what the other left, so an older
    // one is never held, nor lands on disk, last
    const previous = this.deciding.get(name) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(async () => this.decide(name, bytes, record))
    const tail = next.catch(() => {})
    this.deciding.set(name, tail)
    void tail.then(() => { if (this.deciding.get(name) === tail) this.deciding.delete(name) })
    return next
  }

  private async decide (name: string, bytes: Uint8Array, record: IPNSRecord): Promise<{ kept: boolean, written: Promise<void> }> {
    const before = await this.get(name)
    if (!isNewer(record, before?.record)) return { kept: false, written: Promise.resolve() }
    const entry = { record, bytes }
    this.held.set(name, entry)
    const written = (this.writing.get(name) ?? Promise.resolve()).catch(() => {}).then(async () => this.write(name, bytes)).catch((err) => {
      // nothing newer came meanwhile: what was held before is held again
      if (this.held.get(name) === entry) {
        if (before != null) this.held.set(name, before)
        else this.held.delete(name)
      }
      throw err
    })
    const tail = written.catch(() => {})
    this.writing.set(name, tail)
    void tail.then(() => { if (this.writing.get(name) === tail) this.writing.delete(name) })
    return { kept: true, written }
  }

  private async write (name: string, bytes: Uint8Array): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
    const writeFileAtomic = (await import('write-file-atomic')).default
    await writeFileAtomic(path.join(this.dir, `${name}.ipns`), Buffer.from(bytes), { mode: 0o600, fsync: this.fsync })
  }

  /** The names a record is held of */
  async names (): Promise<string[]> {
    try {
      return (await fs.readdir(this.dir)).filter(f => FILE.test(f)).map(f => f.slice(0, -'.ipns'.length))
    } catch (err: any) {
      if (err.code === 'ENOENT') return []
      throw err
    }
  }
}
