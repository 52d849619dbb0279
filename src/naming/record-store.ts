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
   * returns whether it was kept
   */
  async put (name: string, bytes: Uint8Array, record: IPNSRecord = unmarshalIPNSRecord(bytes)): Promise<boolean> {
    // one put of a name at a time: two records arriving together (gossip and a DHT lookup) are
    // each compared with what the other left, so an older one never lands last
    const previous = this.writing.get(name) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(async () => this.putNow(name, bytes, record))
    const tail = next.catch(() => {})
    this.writing.set(name, tail)
    void tail.then(() => { if (this.writing.get(name) === tail) this.writing.delete(name) })
    return next
  }

  private async putNow (name: string, bytes: Uint8Array, record: IPNSRecord): Promise<boolean> {
    const held = await this.get(name)
    if (!isNewer(record, held?.record)) return false
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
    const writeFileAtomic = (await import('write-file-atomic')).default
    await writeFileAtomic(path.join(this.dir, `${name}.ipns`), Buffer.from(bytes), { mode: 0o600, fsync: this.fsync })
    this.held.set(name, { record, bytes })
    return true
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
