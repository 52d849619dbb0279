import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import writeFileAtomic from 'write-file-atomic'

/** A pinned root: everything it links to is kept by gc */
export interface Pin {
  cid: CID
  /** A human name, usually the file or directory name it was published from */
  name: string
  /** Bytes of content under the root (file bytes, summed over a directory tree) */
  size: number
  /** When it was pinned, ms since the epoch */
  pinnedAt: number
  /** Why it is pinned: published here, fetched by a user, or held as a replica for others */
  origin?: PinOrigin
}

export type PinOrigin = 'publish' | 'fetch' | 'replica'

interface PinRecord {
  cid: string
  name: string
  size: number
  pinnedAt: number
  origin?: PinOrigin
}

/**
 * Recursive pins, one small JSON file per root, each written atomically. A pin file that cannot
 * be read is kept out of listings rather than failing them (`shoal verify` does not repair it).
 */
export class Pins {
  constructor (private readonly dir: string) {}

  async open (): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true })
  }

  private fileOf (cid: CID): string {
    return path.join(this.dir, `${cid.toV1().toString()}.json`)
  }

  async add (pin: Pin): Promise<void> {
    const record: PinRecord = { cid: pin.cid.toString(), name: pin.name, size: pin.size, pinnedAt: pin.pinnedAt, ...(pin.origin != null ? { origin: pin.origin } : {}) }
    await writeFileAtomic(this.fileOf(pin.cid), JSON.stringify(record) + '\n', { fsync: true })
  }

  async get (cid: CID): Promise<Pin | undefined> {
    try {
      return parseRecord(await fs.readFile(this.fileOf(cid), 'utf8'))
    } catch {
      return undefined
    }
  }

  async has (cid: CID): Promise<boolean> {
    return (await this.get(cid)) != null
  }

  /** Removes a pin; returns false when there was none */
  async rm (cid: CID): Promise<boolean> {
    try {
      await fs.unlink(this.fileOf(cid))
      return true
    } catch (err: any) {
      if (err.code === 'ENOENT') return false
      throw err
    }
  }

  async list (): Promise<Pin[]> {
    const files = await fs.readdir(this.dir).catch(() => [] as string[])
    const pins: Pin[] = []
    for (const file of files) {
      if (!file.endsWith('.json')) continue
      try {
        const pin = parseRecord(await fs.readFile(path.join(this.dir, file), 'utf8'))
        if (pin != null) pins.push(pin)
      } catch {}
    }
    return pins.sort((a, b) => a.pinnedAt - b.pinnedAt || a.name.localeCompare(b.name))
  }
}

function parseRecord (text: string): Pin | undefined {
  const r = JSON.parse(text) as Partial<PinRecord>
  if (typeof r.cid !== 'string' || typeof r.name !== 'string' || typeof r.size !== 'number' || typeof r.pinnedAt !== 'number') {
    return undefined
  }
  const origin = r.origin === 'publish' || r.origin === 'fetch' || r.origin === 'replica' ? r.origin : undefined
  return { cid: CID.parse(r.cid), name: r.name, size: r.size, pinnedAt: r.pinnedAt, ...(origin != null ? { origin } : {}) }
}
