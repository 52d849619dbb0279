/**
 * Sequence numbers of this peer's own names, reserved ahead on disk, so that a new record goes
 * out on gossip before its own file is written and a crash still never signs two records with
 * one sequence (docs/names.md, Publishing).
 *
 * One small file per name, `names/sequences/<k51...>`, holds a number N: no record of the name
 * with a sequence of N or more has been signed. A record of sequence S is pushed only once N > S
 * is on disk; N is written RESERVE_AHEAD past the sequences used, topped up in the background when
 * half of that is used, so a publish waits for it only on a name's first publish. On a clean stop
 * N is taken back to the next sequence, so sequences run on 0, 1, 2... across restarts; after a
 * crash the next record takes N at least, above any that may have gone out unwritten.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { UnreadableSequenceError } from '../errors.js'

/** Sequences reserved past the ones used: a crash skips at most this many */
export const RESERVE_AHEAD = 64n

interface Reservation {
  /** Every sequence below this may have been signed (from disk at load, then as signed here) */
  used: bigint
  /** On disk: no sequence at or above it has been signed */
  durable: bigint
  /** The write of a new reservation running, and what it writes */
  writing?: Promise<void>
  target?: bigint
}

export class Sequences {
  private readonly dir: string
  private readonly fsync: boolean
  private readonly names = new Map<string, Promise<Reservation>>()

  constructor (dir: string, options: { fsync?: boolean } = {}) {
    this.dir = dir
    this.fsync = options.fsync !== false
  }

  /**
   * The sequence of a new record of `name` (`k51...`), whose held record has `held`: the one
   * after it, or the reservation left on disk if that is higher (a crash left records that may
   * have gone out without being written). A caller signs one record of a name at a time
   */
  async next (name: string, held?: bigint): Promise<bigint> {
    const r = await this.load(name)
    const after = held != null ? held + 1n : 0n
    return after > r.used ? after : r.used
  }

  /**
   * Resolves once `sequence` is signed (it is used) and below the reservation on disk, so its
   * record may go out before it is written; a write only when the reservation runs short
   */
  async reserve (name: string, sequence: bigint): Promise<void> {
    const r = await this.load(name)
    if (sequence + 1n > r.used) r.used = sequence + 1n
    while (r.durable <= sequence) {
      if (r.writing == null || (r.target as bigint) <= sequence) await this.extend(name, r)
      else await r.writing
    }
    // the next publishes find it written
    if (r.durable - r.used < RESERVE_AHEAD / 2n && r.writing == null) void this.extend(name, r).catch(() => {})
  }

  /** Reserve ahead for `name` now if short, so that its next publish finds it written */
  async prepare (name: string): Promise<void> {
    const r = await this.load(name)
    if (r.durable - r.used < RESERVE_AHEAD / 2n) await this.extend(name, r)
  }

  /**
   * Take the reservation of `name` back to the sequences used, once every record signed here is
   * written (a clean stop): the next start goes on from the next sequence
   */
  async release (name: string): Promise<void> {
    const r = await this.load(name)
    while (r.writing != null) await r.writing.catch(() => {})
    if (r.durable === r.used) return
    await this.write(name, r.used)
    r.durable = r.used
  }

  /** Names with a reservation held in memory (signed here since start) */
  loaded (): string[] {
    return [...this.names.keys()]
  }

  private async extend (name: string, r: Reservation): Promise<void> {
    if (r.writing != null) await r.writing.catch(() => {})
    if (r.durable - r.used >= RESERVE_AHEAD / 2n) return
    const target = r.used + RESERVE_AHEAD
    r.target = target
    const writing = this.write(name, target).then(() => { if (target > r.durable) r.durable = target })
    r.writing = writing
    try {
      await writing
    } finally {
      if (r.writing === writing) {
        r.writing = undefined
        r.target = undefined
      }
    }
  }

  private async load (name: string): Promise<Reservation> {
    let r = this.names.get(name)
    if (r == null) {
      r = this.read(name)
      this.names.set(name, r)
      r.catch(() => { this.names.delete(name) })
    }
    return r
  }

  private async read (name: string): Promise<Reservation> {
    let text: string
    try {
      text = await fs.readFile(this.file(name), 'utf8')
    } catch (err: any) {
      if (err.code === 'ENOENT') return { used: 0n, durable: 0n }
      throw err
    }
    // written whole (atomically); anything else is not a file of ours, and not trusted to be low
    if (!/^[0-9]{1,20}\n?$/.test(text)) throw new UnreadableSequenceError(`${this.file(name)} is not a sequence reservation: write into it a number above the highest sequence of the name published (its record in the DHT or on a mirror shows it)`)
    const n = BigInt(text.trim())
    return { used: n, durable: n }
  }

  private async write (name: string, n: bigint): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
    const writeFileAtomic = (await import('write-file-atomic')).default
    await writeFileAtomic(this.file(name), `${n}\n`, { mode: 0o600, fsync: this.fsync })
  }

  private file (name: string): string {
    return path.join(this.dir, name)
  }
}
