import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { UnreadablePinError } from '../errors.js'
import { mhKey } from './dag.js'

/** A pinned root: everything it links to is kept by gc */
export interface Pin {
  cid: CID
  /** A human name, usually the file or directory name it was published from */
  name: string
  /** Bytes of content under the root (file bytes, summed over a directory tree) */
  size: number
  /** When it was pinned, ms since the epoch */
  pinnedAt: number
  /**
   * Why it is pinned: published here, fetched by a user, held as a replica for others, or held as
   * a version of a followed name (unpinned when it falls out of the versions kept)
   */
  origin?: PinOrigin
}

export type PinOrigin = 'publish' | 'fetch' | 'replica' | 'follow'

/**
 * A pin record that exists but cannot be read (not JSON, missing fields, unreadable file). The
 * pin it stands for is still meant to hold its DAG, so nothing may treat it as absent.
 */
export interface UnreadablePin {
  /** The record's path */
  file: string
  /** The root its file is named for, when the name is a CID */
  cid?: CID
  /** Why it cannot be read, one line */
  reason: string
}

/** Every pin record: the pins, and the records that could not be read */
export interface PinScan {
  pins: Pin[]
  unreadable: UnreadablePin[]
}

export interface PinsInit {
  /**
   * fsync the pins directory after a record is renamed into place, so a pin that was reported
   * made survives a power cut
   * @default true
   */
  fsync?: boolean
}

interface PinRecord {
  cid: string
  name: string
  size: number
  pinnedAt: number
  origin?: PinOrigin
}

const RECORD_SUFFIX = '.json'
/** write-file-atomic's temporary names: the record's name, a dot and a hex hash */
const TEMP_RECORD = /\.json\.[0-9a-f]+$/

/**
 * Recursive pins, one small JSON file per root named by the root's CIDv1. Each record is written
 * to a temporary file, fsynced and renamed into place (then the directory is synced), so a crash
 * leaves the old record or the new one, never a torn one. A record that cannot be read anyway
 * (edited by hand, a failing disk) is never taken for an absent pin: `list` and `get` throw
 * UnreadablePinError naming it, and `scan` reports it beside the readable pins.
 */
export class Pins {
  private readonly dir: string
  private readonly fsync: boolean

  constructor (dir: string, init: PinsInit = {}) {
    this.dir = dir
    this.fsync = init.fsync ?? true
  }

  async open (): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true })
    // temporary records left by a crash mid-write; the repo lock keeps other writers out
    for (const file of await fs.readdir(this.dir)) {
      if (TEMP_RECORD.test(file)) await fs.rm(path.join(this.dir, file), { force: true })
    }
  }

  private fileOf (cid: CID): string {
    return path.join(this.dir, `${cid.toV1().toString()}${RECORD_SUFFIX}`)
  }

  async add (pin: Pin): Promise<void> {
    const record: PinRecord = { cid: pin.cid.toString(), name: pin.name, size: pin.size, pinnedAt: pin.pinnedAt, ...(pin.origin != null ? { origin: pin.origin } : {}) }
    await (await writeFileAtomic())(this.fileOf(pin.cid), JSON.stringify(record) + '\n', { fsync: this.fsync })
    await this.syncDir()
  }

  /** The pin of a root; undefined when it has none; UnreadablePinError when its record cannot be read */
  async get (cid: CID): Promise<Pin | undefined> {
    const file = this.fileOf(cid)
    const read = await readRecord(file, cid)
    if (read === undefined) return undefined
    if ('reason' in read) throw new UnreadablePinError('cannot read the pin', read)
    return read
  }

  /** Whether a root has a pin record, readable or not */
  async has (cid: CID): Promise<boolean> {
    try {
      await fs.access(this.fileOf(cid))
      return true
    } catch (err: any) {
      if (err.code === 'ENOENT') return false
      throw err
    }
  }

  /** Removes a pin, readable or not; returns false when there was none */
  async rm (cid: CID): Promise<boolean> {
    try {
      await fs.unlink(this.fileOf(cid))
    } catch (err: any) {
      if (err.code === 'ENOENT') return false
      throw err
    }
    await this.syncDir()
    return true
  }

  /** Every pin; UnreadablePinError naming the first record that cannot be read, if one cannot */
  async list (): Promise<Pin[]> {
    const { pins, unreadable } = await this.scan()
    if (unreadable.length > 0) throw new UnreadablePinError('cannot list the pins', unreadable[0], unreadable.length - 1)
    return pins
  }

  /** Every pin record: the pins, oldest first, and the records that cannot be read */
  async scan (): Promise<PinScan> {
    let files: string[]
    try {
      files = await fs.readdir(this.dir)
    } catch (err: any) {
      // a pins directory that cannot be listed is not an empty one
      if (err.code === 'ENOENT') return { pins: [], unreadable: [] }
      throw new UnreadablePinError('cannot list the pins', { file: this.dir, reason: oneLine(err.message) })
    }
    const pins: Pin[] = []
    const unreadable: UnreadablePin[] = []
    for (const name of files.sort()) {
      if (!name.endsWith(RECORD_SUFFIX)) continue
      const file = path.join(this.dir, name)
      const read = await readRecord(file, cidOfName(name))
      if (read === undefined) continue // removed while we listed
      if ('reason' in read) unreadable.push(read)
      else pins.push(read)
    }
    pins.sort((a, b) => a.pinnedAt - b.pinnedAt || a.name.localeCompare(b.name))
    return { pins, unreadable }
  }

  private async syncDir (): Promise<void> {
    if (!this.fsync) return
    const handle = await fs.open(this.dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}

/** The root a record's file name stands for, when it is a CID */
function cidOfName (name: string): CID | undefined {
  try {
    return CID.parse(name.slice(0, -RECORD_SUFFIX.length))
  } catch {
    return undefined
  }
}

/** A record's pin; undefined when the file does not exist; what is wrong when it cannot be read */
async function readRecord (file: string, expected: CID | undefined): Promise<Pin | UnreadablePin | undefined> {
  const unreadable = (reason: string): UnreadablePin => ({ file, ...(expected != null ? { cid: expected } : {}), reason: oneLine(reason) })
  if (expected == null) return unreadable('its file name is not a CID')
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    return unreadable(err.message)
  }
  let r: Partial<PinRecord>
  try {
    r = JSON.parse(text)
  } catch (err: any) {
    return unreadable(text.trim() === '' ? 'it is empty' : `it is not JSON: ${err.message}`)
  }
  if (r == null || typeof r !== 'object' || typeof r.cid !== 'string' || typeof r.name !== 'string' || typeof r.size !== 'number' || typeof r.pinnedAt !== 'number') {
    return unreadable('it lacks one of cid, name, size, pinnedAt')
  }
  let cid: CID
  try {
    cid = CID.parse(r.cid)
  } catch {
    return unreadable(`its cid "${r.cid.slice(0, 80)}" is not a CID`)
  }
  if (mhKey(cid) !== mhKey(expected)) {
    return unreadable(`it names ${cid}, not the root its file is named for`)
  }
  const origin = r.origin === 'publish' || r.origin === 'fetch' || r.origin === 'replica' || r.origin === 'follow' ? r.origin : undefined
  return { cid, name: r.name, size: r.size, pinnedAt: r.pinnedAt, ...(origin != null ? { origin } : {}) }
}

function oneLine (s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

/** write-file-atomic, loaded by the writes that use it: reads never do */
async function writeFileAtomic (): Promise<typeof import('write-file-atomic')> {
  return (await import('write-file-atomic')).default
}
